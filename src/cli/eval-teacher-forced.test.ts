/**
 * @file `sayo eval` with two models, spawned for real on two tiny exported folders (Qwen3-VL without and with
 * DeepStack, random weights, built by e2e/support/exports.ts): each model's teacher-forced row on the other's answer
 * equals scoring that answer text through the engine in this process, a model teacher-forced on its own tokens gives
 * its generated row, the paired differences are the row differences, and a rerun resumes the teacher-forced scores.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExports, EXPORT_BUILD_TIMEOUT_MS, type Exports } from '../../lab/support/exports.ts';
import { boxToTokens, gridFor } from '../core/geometry.ts';
import { sampleMetrics } from '../core/metrics.ts';
import { sharesTokenIds } from '../engine/cross.ts';
import { parseSession } from '../session/serialize.ts';
import { identicalTextGap } from './lib/sessions.ts';
import { createNodeEngine } from '../engine/node.ts';
import type { ModelInfo, PromptInfo, ScoreRequest, StepRecord } from '../engine/types.ts';
import { hasStackTrace, runSayo } from '../../lab/testutils/run-cli.ts';

const A = 'qwen3_vl' as const;
const B = 'qwen3_vl_deepstack' as const;
const BOX: [number, number, number, number] = [0, 0, 80, 64];
let exports: Exports;
let tmp = '';
let results: {
  models: Array<Record<string, unknown>>;
  paired: Array<Record<string, { n: number; mean: number }>>;
  rows: Array<Record<string, unknown>>;
};
let firstRun: ReturnType<typeof runSayo>;
let args: string[];

beforeAll(() => {
  exports = buildExports();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-eval-tf-'));
  fs.copyFileSync(path.join(exports.dir, `${A}.png`), path.join(tmp, 'a.png'));
  const question = exports.reference[A].question;
  const records = [
    { image: 'a.png', question, answer: 'red', boxes: [BOX] },
    { image: 'a.png', question: 'What color is the square?', answer: 'blue', boxes: [[80, 64, 160, 128]] },
  ];
  fs.writeFileSync(path.join(tmp, 'set.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  args = [
    'eval',
    '--model',
    exports.folder(A),
    '--model',
    exports.folder(B),
    '--data',
    path.join(tmp, 'set.jsonl'),
    '--out',
    path.join(tmp, 'out'),
    '--max-new-tokens',
    '4',
  ];
  firstRun = runSayo(args);
  results = JSON.parse(fs.readFileSync(path.join(tmp, 'out/results.json'), 'utf8'));
}, EXPORT_BUILD_TIMEOUT_MS);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const engine = createNodeEngine();

/** The contract metrics of one engine.score call on the last layer, as the lens's cross-scoring makes it. */
async function scored(
  info: ModelInfo,
  question: string,
  answer: Pick<ScoreRequest, 'answer' | 'answerTokenIds'>,
  box: number[],
) {
  const steps: StepRecord[] = [];
  let prompt: PromptInfo | undefined;
  const image = { kind: 'encoded' as const, bytes: new Uint8Array(fs.readFileSync(path.join(tmp, 'a.png'))) };
  const last = info.numLayers - 1;
  await engine.score(
    info.handle,
    { image, question, ...answer, captureLayers: [last] },
    { onPrompt: (p) => (prompt = p), onStep: (s) => steps.push(s) },
  );
  const targets = boxToTokens([box as [number, number, number, number]], gridFor(prompt!.image, info.processor));
  return { steps, metrics: sampleMetrics('', '', steps, last, targets) };
}

describe('sayo eval, teacher-forced on the other model', () => {
  it('writes tf_* columns, a paired table and resumes them', () => {
    expect(hasStackTrace(firstRun.stderr)).toBe(false);
    expect(firstRun.status).toBe(0);
    expect(firstRun.stdout).toMatch(/tf on\s+tf R_a\s+tf r_v\s+tf image share\s+tf pointing/);
    expect(firstRun.stdout).toMatch(/Paired differences on identical text/);
    expect(results.rows).toHaveLength(4);
    const csv = fs.readFileSync(path.join(tmp, 'out/results.csv'), 'utf8').split('\n')[0];
    expect(csv).toContain(',tf_on,tf_tokens,tf_R_a,tf_r_v,tf_imageShare,tf_pointingHit,');
    for (const row of results.rows) {
      expect(row.tf_on).toBe(row.model === exports.folder(A) ? exports.folder(B) : exports.folder(A));
      expect(row.tf_R_a).toBeGreaterThan(0);
      expect(typeof row.tf_r_v).toBe('number');
    }
    // Another model's text scores differently from the model's own: the columns are not a copy of R_a.
    expect(results.rows.some((r) => Math.abs((r.tf_R_a as number) - (r.R_a as number)) > 1e-6)).toBe(true);
    // The paired differences are the per-row differences on the same text.
    const [onA, onB] = results.paired;
    const rowsA = results.rows.filter((r) => r.model === exports.folder(A));
    const rowsB = results.rows.filter((r) => r.model === exports.folder(B));
    const mean = (v: number[]) => v.reduce((a, x) => a + x, 0) / v.length;
    expect(onA.R_a.n).toBe(2);
    expect(onA.R_a.mean).toBeCloseTo(mean(rowsB.map((b, i) => (b.tf_R_a as number) - (rowsA[i].R_a as number))), 12);
    expect(onB.R_a.mean).toBeCloseTo(mean(rowsB.map((b, i) => (b.R_a as number) - (rowsA[i].tf_R_a as number))), 12);
    expect(onB.r_v.mean).toBeCloseTo(mean(rowsB.map((b, i) => (b.r_v as number) - (rowsA[i].tf_r_v as number))), 12);

    const second = runSayo(args);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('4 rows (4 resumed)');
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'out/results.json'), 'utf8')).rows).toEqual(results.rows);
    // Four generated rows and four teacher-forced scores, none appended again.
    expect(fs.readFileSync(path.join(tmp, 'out/progress.jsonl'), 'utf8').trim().split('\n')).toHaveLength(8);
  });

  it("A's teacher-forced row on B's answer equals scoring B's text in the engine; A on its own tokens equals its generated row", async () => {
    const a = await engine.load({ kind: 'path', path: exports.folder(A) });
    const b = await engine.load({ kind: 'path', path: exports.folder(B) });
    try {
      // The two folders differ in depth, so cross-scoring sends the text and A's tokenizer splits it.
      expect(sharesTokenIds(a, b)).toBe(false);
      const rowsA = results.rows.filter((r) => r.model === exports.folder(A));
      const rowsB = results.rows.filter((r) => r.model === exports.folder(B));
      for (const [i, rowA] of rowsA.entries()) {
        const rowB = rowsB[i];
        const box = i === 0 ? BOX : [80, 64, 160, 128];
        const cross = await scored(a, rowA.question as string, { answer: rowB.text as string }, box);
        expect(cross.steps.at(-1)!.text).toBe('<|im_end|>');
        expect(rowA.tf_tokens).toBe(cross.steps.length);
        expect(rowA.tf_R_a).toBeCloseTo(cross.metrics.R_a!, 6);
        expect(rowA.tf_r_v).toBeCloseTo(cross.metrics.r_v!, 6);
        expect(rowA.tf_imageShare).toBeCloseTo(cross.metrics.imageShare!, 6);
        expect(rowA.tf_pointingHit).toBe(cross.metrics.pointingHit);
        const crossB = await scored(b, rowB.question as string, { answer: rowA.text as string }, box);
        expect(rowB.tf_R_a).toBeCloseTo(crossB.metrics.R_a!, 6);
        expect(rowB.tf_r_v).toBeCloseTo(crossB.metrics.r_v!, 6);

        const own = await scored(
          a,
          rowA.question as string,
          { answer: '', answerTokenIds: rowA.tokenIds as number[] },
          box,
        );
        expect(own.steps.length).toBe(rowA.tokens);
        expect(own.metrics.R_a).toBeCloseTo(rowA.R_a as number, 4);
        expect(own.metrics.r_v).toBeCloseTo(rowA.r_v as number, 4);
        expect(own.metrics.imageShare).toBeCloseTo(rowA.imageShare as number, 4);
      }
    } finally {
      await engine.unload(a.handle);
      await engine.unload(b.handle);
    }
  });
});

describe('sayo eval --sessions', () => {
  it('diff:1 writes the question with the largest |Δ R_a| on identical text as a session the lens reads, named in the CSV and plot', () => {
    const dir = path.join(tmp, 'sessions');
    const run = runSayo([...args, '--sessions', dir, '--keep', 'diff:1']);
    expect(hasStackTrace(run.stderr)).toBe(false);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('4 rows (4 resumed)');
    expect(run.stdout).toMatch(/1 session files \(--keep diff:1\)/);
    const out = JSON.parse(fs.readFileSync(path.join(tmp, 'out/results.json'), 'utf8'));
    const rowsA = out.rows.filter((r: { model: string }) => r.model === exports.folder(A));
    const rowsB = out.rows.filter((r: { model: string }) => r.model === exports.folder(B));
    const gaps = rowsA.map((a: never, i: number) => identicalTextGap(a, rowsB[i])!);
    // The gap by hand: on A's text (B forced vs A's own) and on B's text (B's own vs A forced).
    expect(gaps[0]).toBeCloseTo(
      Math.max(Math.abs(rowsB[0].tf_R_a - rowsA[0].R_a), Math.abs(rowsB[0].R_a - rowsA[0].tf_R_a)),
      12,
    );
    const chosen = gaps[0] >= gaps[1] ? 0 : 1;
    const line = rowsA[chosen].line;
    const name = `line-${String(line).padStart(6, '0')}.json`;
    expect(fs.readdirSync(dir)).toEqual([name]);
    for (const r of out.rows)
      expect(r.session).toBe(r.line === line ? path.relative(path.join(tmp, 'out'), path.join(dir, name)) : null);
    const csv = fs.readFileSync(path.join(tmp, 'out/results.csv'), 'utf8');
    expect(csv.split('\n')[0]).toContain(',session,');
    expect(csv).toContain(`,../sessions/${name},`);
    const svg = fs.readFileSync(path.join(tmp, 'out/plot.svg'), 'utf8');
    expect(
      svg.match(new RegExp(`<a href="../sessions/${name}"><circle [^>]*data-session="../sessions/${name}"`, 'g')),
    ).toHaveLength(2);

    // The lens's own reader accepts it: image, question, boxes, both answers and each teacher-forced on the other's.
    const session = parseSession(fs.readFileSync(path.join(dir, name), 'utf8'));
    const record = fs
      .readFileSync(path.join(tmp, 'set.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))[line - 1];
    expect(session.question).toBe(record.question);
    expect(session.boxes).toEqual(record.boxes);
    expect([session.image.width, session.image.height]).toEqual([160, 128]);
    expect(session.panels.map((p) => `${p.side}/${p.source}/${p.modelId}`)).toEqual([
      `base/generate/${exports.folder(A)}`,
      `base/score/${exports.folder(A)}`,
      `trained/generate/${exports.folder(B)}`,
      `trained/score/${exports.folder(B)}`,
    ]);
    const [ownA, forcedA, ownB] = session.panels;
    expect(ownA.steps.map((t) => t.tokenId)).toEqual(rowsA[chosen].tokenIds);
    expect(ownB.steps.map((t) => t.tokenId)).toEqual(rowsB[chosen].tokenIds);
    expect(forcedA.summary!.text).toBe(rowsB[chosen].text);
    expect(forcedA.steps).toHaveLength(rowsA[chosen].tf_tokens);
    expect(forcedA.steps.at(-1)!.text).toBe('<|im_end|>');
    // The attention it carries gives the row's figures: the session shows what results.csv reports.
    const last = ownA.steps[0].layers.at(-1)!;
    const processor = JSON.parse(fs.readFileSync(path.join(exports.folder(A), 'preprocessor_config.json'), 'utf8'));
    const grid = gridFor(ownA.prompt.image, processor);
    expect([grid.rows, grid.cols]).toEqual([ownA.prompt.grid.rows, ownA.prompt.grid.cols]);
    const targets = boxToTokens(record.boxes, grid);
    expect(sampleMetrics('', '', ownA.steps, last, targets).R_a).toBeCloseTo(rowsA[chosen].R_a, 4);
    expect(sampleMetrics('', '', forcedA.steps, last, targets).R_a).toBeCloseTo(rowsA[chosen].tf_R_a, 4);
    expect(session.view.layer).toBe(last);
  });

  it('worst:1 keeps the lowest R_a of the last model; a bad --keep is refused before any work', () => {
    const dir = path.join(tmp, 'worst');
    const run = runSayo([...args, '--sessions', dir, '--keep', 'worst:1']);
    expect(run.status).toBe(0);
    const rowsB = JSON.parse(fs.readFileSync(path.join(tmp, 'out/results.json'), 'utf8')).rows.filter(
      (r: { model: string }) => r.model === exports.folder(B),
    );
    const worst = rowsB.reduce((a: { R_a: number }, b: { R_a: number }) => (b.R_a < a.R_a ? b : a));
    expect(fs.readdirSync(dir)).toEqual([`line-${String(worst.line).padStart(6, '0')}.json`]);
    const bad = runSayo([...args, '--sessions', dir, '--keep', 'best:3']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--keep must be all, worst:N or diff:N/);
  });
});
