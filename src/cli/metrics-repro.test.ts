/**
 * @file Acceptance: `sayo eval` on the bundled held-out set reproduces models/METRICS.md for the shipped pair,
 * within the printed precision (runs the whole set; its wall time is logged). Also the Markdown reader itself, and
 * the precondition for an exact reproduction: held-out images already at their processor size. When the processor
 * must resize, the trainer (PIL bicubic) and transformers.js (sharp) resample differently; measured on the shipped
 * pair, generations and accuracy still agree, but per-sample R_a / r_v differ by up to 3e-3 / 1.4e-2, while on the
 * same images pre-resized with PIL every per-sample figure agrees to ≤ 8.2e-7.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it, onTestFinished } from 'vitest';
import { gridFor } from '../core/geometry.ts';
import { compareRow, parseMetricsMarkdown, parsePrinted } from '../../lab/testutils/metrics-md.ts';
import { REPO_ROOT, runSayo } from '../../lab/testutils/run-cli.ts';

describe('metrics Markdown reader', () => {
  it('reads numbers, percentages and their printed precision from metric tables only', () => {
    expect(parsePrinted('41.5%')).toMatchObject({ value: 0.415, tolerance: 0.0005 });
    expect(parsePrinted('**0.512**')).toMatchObject({ value: 0.512, tolerance: 0.0005 });
    expect(parsePrinted('n/a')).toBeNull();
    const text = [
      '# Metrics',
      '',
      '| step | loss |',
      '|---|---|',
      '| 1 | 0.5 |',
      '',
      '| checkpoint | accuracy | mean R_a | r_v | image share | pointing hit |',
      '|:--|--:|--:|--:|--:|--:|',
      '| sayo-mini-base | 40.0% | 0.512 | 0.10 | 0.301 | 55.0% |',
      '| sayo-mini | 45.5% | 0.640 | 0.41 | 0.352 | 71.5% |',
    ].join('\n');
    const rows = parseMetricsMarkdown(text);
    expect(rows.map((r) => r.label)).toEqual(['sayo-mini-base', 'sayo-mini']);
    expect(rows[1].values.r_v).toMatchObject({ value: 0.41, tolerance: 0.005 });
    const measured = {
      samples: 200,
      accuracy: 0.4549,
      R_a: 0.6404,
      r_v: 0.4149,
      imageShare: 0.3524,
      pointingHit: 0.715,
    };
    expect(compareRow(rows[1], measured)).toEqual([]);
    expect(compareRow(rows[1], { ...measured, R_a: 0.6406 })).toEqual(['sayo-mini R_a: report 0.640, measured 0.6406']);
  });
});

const metricsFile = path.join(REPO_ROOT, 'models/METRICS.md');
const heldout = path.join(REPO_ROOT, 'data/heldout/set.jsonl');

describe('models/METRICS.md reproduction', () => {
  it("held-out images need no resampling (their size is already the processor's), so Python and JS see the same pixels", async () => {
    const proc = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models/sayo-mini/preprocessor_config.json'), 'utf8'));
    const resized: string[] = [];
    for (const line of fs.readFileSync(heldout, 'utf8').trim().split('\n')) {
      const image = path.join(path.dirname(heldout), JSON.parse(line).image);
      const { width = 0, height = 0 } = await sharp(image).metadata();
      const grid = gridFor({ width, height }, proc);
      if (grid.resized.width !== width || grid.resized.height !== height)
        resized.push(`${path.basename(image)} ${width}×${height}→${grid.resized.width}×${grid.resized.height}`);
    }
    expect(
      resized,
      `${resized.length} images are resampled by the processor, e.g. ${resized.slice(0, 3).join(', ')}`,
    ).toEqual([]);
  });

  it('sayo eval on data/heldout/set.jsonl matches the report for sayo-mini-base and sayo-mini', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-repro-'));
    onTestFinished(() => fs.rmSync(out, { recursive: true, force: true }));
    const run = runSayo(
      ['eval', '--model', 'sayo-mini-base', '--model', 'sayo-mini', '--data', heldout, '--out', out],
      1_500_000,
    );
    console.log(`sayo eval, full held-out set, both models: ${(run.ms / 1000).toFixed(1)} s\n${run.stdout}`);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    const report = parseMetricsMarkdown(fs.readFileSync(metricsFile, 'utf8'));
    // The trainer labels the rows "SAYO-mini-base (SFT)" and "<run name> (GRPO rewards: …)".
    const rowFor = (base: boolean) => report.find((r) => /base/i.test(r.label) === base);
    const problems: string[] = [];
    for (const [i, base] of [
      [0, true],
      [1, false],
    ] as const) {
      const row = rowFor(base);
      expect(row, `METRICS.md has a row for ${base ? 'the base' : 'the trained'} model`).toBeDefined();
      expect(Object.keys(row!.values).length).toBeGreaterThanOrEqual(2);
      problems.push(...compareRow(row!, results.models[i]));
    }
    expect(problems).toEqual([]);
  }, 1_600_000);
});
