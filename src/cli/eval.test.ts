/**
 * @file `sayo eval` and `sayo ask` spawned for real on the shipped SAYO-mini pair and held-out images: outputs,
 * bad input (malformed line, missing image, corrupt ONNX), resuming, agreement between ask and eval, and the embedded
 * pair's notice on a picture unlike the ones it was trained on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, REPO_ROOT, runSayo } from '../../lab/testutils/run-cli.ts';
import { stripAttentionOutputs } from './onnx/attention.ts';
import { readModel, writeModel } from './onnx/model.ts';

const heldout = path.join(REPO_ROOT, 'data/heldout/set.jsonl');
let dir = '';
let lines: string[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-eval-'));
  lines = fs.readFileSync(heldout, 'utf8').trim().split('\n');
  fs.symlinkSync(path.join(REPO_ROOT, 'data/heldout/images'), path.join(dir, 'images'));
  const missing = { ...JSON.parse(lines[2]), image: 'images/does-not-exist.png' };
  fs.writeFileSync(path.join(dir, 'garbage.png'), 'not an image at all');
  const garbage = { ...JSON.parse(lines[4]), image: 'garbage.png' };
  const mixed = [
    lines[0],
    '{"image": "images/00001.png", "question": ',
    lines[1],
    JSON.stringify(missing),
    '',
    '{"image": "x.png"}',
    lines[3],
    JSON.stringify(garbage),
  ];
  fs.writeFileSync(path.join(dir, 'mixed.jsonl'), mixed.join('\n') + '\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('sayo eval', () => {
  it('reports bad lines and missing images, keeps going, writes results, and resumes', () => {
    const out = path.join(dir, 'out');
    const args = [
      'eval',
      '--model',
      'sayo-mini-base',
      '--model',
      'sayo-mini',
      '--data',
      path.join(dir, 'mixed.jsonl'),
      '--out',
      out,
    ];
    const first = runSayo(args);
    expect(hasStackTrace(first.stderr)).toBe(false);
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/line 2: .*JSON.* \(skipped\)/);
    expect(first.stderr).toMatch(/line 6: "question" must be a non-empty string \(skipped\)/);
    expect(first.stderr).toMatch(/line 4: image images\/does-not-exist\.png not found \(skipped\)/);
    expect(first.stderr).toMatch(/line 8: .*garbage\.png: not a PNG, JPEG, WebP, GIF or BMP image .*\(skipped\)/);
    expect(first.stdout).toMatch(/SAYO-mini base\s+3\s/);
    expect(first.stdout).toMatch(/SAYO-mini\s+3\s/);
    expect(first.stdout).toContain('6 rows (0 resumed)');

    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.rows).toHaveLength(6);
    expect(results.rows.map((r: { line: number }) => r.line)).toEqual([1, 3, 7, 1, 3, 7]);
    for (const row of results.rows) {
      expect(row.R_a).toBeGreaterThanOrEqual(0);
      expect(row.R_a).toBeLessThanOrEqual(1);
      expect(Math.abs(row.r_v)).toBeLessThanOrEqual(1);
      expect(row.tokens).toBeGreaterThan(0);
      expect(row.tokens).toBeLessThanOrEqual(24);
    }
    expect(results.models.map((m: { name: string }) => m.name)).toEqual(['SAYO-mini base', 'SAYO-mini']);
    const csv = fs.readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^model,modelName,line,image,question,answer,prediction,correct,tokens/);
    expect(csv).toHaveLength(7);
    const svg = fs.readFileSync(path.join(out, 'plot.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(6);

    const second = runSayo(args);
    expect(second.status).toBe(0);
    // Resumed, not recomputed: every row comes from progress.jsonl (a wall-time comparison was flaky on a loaded machine).
    expect(second.stdout).toContain('6 rows (6 resumed)');
    expect(JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).rows).toEqual(results.rows);
    // Six generated rows and six teacher-forced scores (each model on the other's answer).
    expect(fs.readFileSync(path.join(out, 'progress.jsonl'), 'utf8').trim().split('\n')).toHaveLength(12);
    for (const row of results.rows) expect(row.tf_on).toBe(row.model === 'sayo-mini' ? 'sayo-mini-base' : 'sayo-mini');
  });

  it('a model without attention outputs still gets accuracy, with n/a attention metrics and the reason', () => {
    const folder = path.join(dir, 'no-attention');
    fs.cpSync(path.join(REPO_ROOT, 'models/sayo-mini'), folder, { recursive: true });
    const file = path.join(folder, 'onnx/decoder_model_merged.onnx');
    const loaded = readModel(file);
    stripAttentionOutputs(loaded.model);
    writeModel(loaded, path.join(folder, 'onnx/stripped.onnx'));
    fs.renameSync(path.join(folder, 'onnx/stripped.onnx'), file);
    const run = runSayo([
      'eval',
      '--model',
      folder,
      '--data',
      heldout,
      '--limit',
      '2',
      '--out',
      path.join(dir, 'out-noattn'),
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/no decoder_attentions outputs/);
    expect(run.stdout).toMatch(/no-attention\s+2\s+\d+\.\d%\s+n\/a\s+n\/a\s+n\/a\s+n\/a/);
  });

  it('a corrupt decoder gets one clear line and exit 2', () => {
    const folder = path.join(dir, 'corrupt-model');
    fs.cpSync(path.join(REPO_ROOT, 'models/sayo-mini'), folder, { recursive: true });
    fs.truncateSync(path.join(folder, 'onnx/decoder_model_merged.onnx'), 50_000);
    const run = runSayo([
      'eval',
      '--model',
      folder,
      '--data',
      heldout,
      '--limit',
      '1',
      '--out',
      path.join(dir, 'out-corrupt'),
    ]);
    expect(run.status).toBe(2);
    expect(hasStackTrace(run.stderr)).toBe(false);
    expect(run.stderr).toMatch(/^sayo: cannot load .*corrupt-model/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses an unknown model and a missing data file with exit 2', () => {
    const a = runSayo(['eval', '--model', 'no-such-model', '--data', heldout]);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/no such folder, and not a registry id/);
    const b = runSayo([
      'eval',
      '--model',
      'sayo-mini',
      '--data',
      path.join(dir, 'nope.jsonl'),
      '--out',
      path.join(dir, 'o'),
    ]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/cannot read .*nope\.jsonl/);
  });
});

describe('sayo ask', () => {
  it('--json gives per-token a, v, R_a and the reward, and agrees with the eval row of the same sample', () => {
    const record = JSON.parse(lines[0]);
    const box = record.boxes[0].join(',');
    const image = path.join(REPO_ROOT, 'data/heldout', record.image);
    const run = runSayo([
      'ask',
      '--model',
      'sayo-mini',
      '--image',
      image,
      '--question',
      record.question,
      '--boxes',
      box,
      '--json',
    ]);
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout);
    const T = out.tokens.length;
    expect(T).toBeGreaterThan(0);
    for (const t of out.tokens) {
      expect(t.R_a).toBeCloseTo(0.5 * (1 + Math.tanh(Math.log((t.a + 1e-8) / (t.v + 1e-8)))), 12);
      expect(t.entropy).toBeGreaterThanOrEqual(0);
    }
    expect(out.reward.selected).toHaveLength(Math.max(1, Math.floor(0.3 * T)));
    expect(out.tokens.filter((t: { selected: boolean }) => t.selected)).toHaveLength(out.reward.selected.length);
    const evalRow = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'results.json'), 'utf8')).rows[3];
    expect(evalRow.modelName).toBe('SAYO-mini');
    expect(evalRow.line).toBe(1);
    expect(out.text).toBe(evalRow.text);
    expect(out.reward.meanRa).toBeCloseTo(evalRow.R_a, 12);
    expect(out.reward.r_v).toBeCloseTo(evalRow.r_v, 12);
  });

  it('on a photo, the embedded model comes with the synthetic-pictures notice (stderr, and in --json); not on its own kind of picture', async () => {
    const photo = path.join(dir, 'photo.png');
    const [W, H] = [360, 240];
    const px = Buffer.alloc(W * H * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 2654435761) >>> 24;
    await sharp(px, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toFile(photo);
    const text = runSayo([
      'ask',
      '--model',
      'sayo-mini',
      '--image',
      photo,
      '--question',
      'What is on the board?',
      '--boxes',
      '10,10,120,90',
    ]);
    expect(text.status).toBe(0);
    expect(text.stderr).toMatch(/trained only on synthetic pictures/);
    const json = runSayo([
      'ask',
      '--model',
      'sayo-mini',
      '--image',
      photo,
      '--question',
      'What is on the board?',
      '--json',
    ]);
    expect(JSON.parse(json.stdout).notice).toMatch(/trained only on synthetic pictures/);
    const own = runSayo([
      'ask',
      '--model',
      'sayo-mini',
      '--image',
      path.join(REPO_ROOT, 'data/heldout/images/00000.png'),
      '--question',
      'q',
      '--json',
    ]);
    expect(own.stderr).not.toMatch(/synthetic pictures/);
    expect(JSON.parse(own.stdout).notice).toBeNull();
  });

  it('prints a token table, and refuses bad boxes and missing images with exit 2', () => {
    const image = path.join(REPO_ROOT, 'data/heldout/images/00000.png');
    const ok = runSayo([
      'ask',
      '--model',
      'sayo-mini',
      '--image',
      image,
      '--question',
      'What color is the small triangle?',
      '--boxes',
      '128,113,162,147',
    ]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/r_v = -?\d\.\d{4}/);
    expect(ok.stdout).toMatch(/tokens\/s/);
    const bad = runSayo(['ask', '--model', 'sayo-mini', '--image', image, '--question', 'q', '--boxes', '1,2,3']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/"1,2,3" is not x1,y1,x2,y2/);
    const missing = runSayo(['ask', '--model', 'sayo-mini', '--image', path.join(dir, 'none.png'), '--question', 'q']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read image/);
  });
});
