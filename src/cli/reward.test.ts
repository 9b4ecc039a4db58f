/**
 * @file `sayo reward` end to end: the real CLI (`npx sayo reward`) is spawned for a valid case (file and stdin), for
 * every trainer fixture (parity ≤ 1e-6), and for every kind of invalid input the command refuses (exit 2, one line naming the
 * field, no stack trace, nothing on stdout).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCaseText } from '../core/case.ts';
import { REPO_ROOT, type RewardFixture, diffWithin, loadFixture } from '../../lab/testutils/parity.ts';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `npx sayo reward --input <source>` in the repository (npm's own config warnings silenced). */
function sayoReward(source: string, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['sayo', 'reward', '--input', source], {
      cwd: REPO_ROOT,
      env: { ...process.env, npm_config_loglevel: 'error' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const dir = mkdtempSync(join(tmpdir(), 'sayo-reward-'));
let fileCount = 0;
function caseFile(text: string): string {
  const path = join(dir, `case-${fileCount++}.json`);
  writeFileSync(path, text);
  return path;
}

/** 112×84 image, Qwen2-VL processor: 3 rows × 4 cols = 12 tokens; 2 heads; 3 generated tokens. */
function validCase(): Record<string, unknown> {
  const n = 12;
  const row = (t: number, h: number) => Array.from({ length: n }, (_, k) => (((k + 1) * (t + 2) * (h + 1)) % 7) / 42);
  return {
    image: { width: 112, height: 84 },
    processor: { patch_size: 14, merge_size: 2, min_pixels: 3136, max_pixels: 200704 },
    boxes: [[0, 0, 50, 30]],
    attention: [0, 1, 2].map((t) => [0, 1].map((h) => row(t, h))),
    entropy: [0.5, 2.0, 1.0],
  };
}

/** Runs pool-limited async jobs (the machine has 2 shared cores). */
async function inPool<T, R>(items: T[], size: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await job(items[i]);
    }
  };
  await Promise.all(Array.from({ length: size }, worker));
  return out;
}

describe('sayo reward: valid input', () => {
  it('prints one JSON object equal to the core result (file input)', async () => {
    const text = JSON.stringify(validCase());
    const run = await sayoReward(caseFile(text));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(run.stdout);
    expect(out).toEqual(JSON.parse(JSON.stringify(runCaseText(text))));
    expect(out.grid).toEqual({ rows: 3, cols: 4, resized: { width: 112, height: 84 } });
    expect(out.target_tokens).toEqual([0, 1, 4, 5]);
    expect(out.selected).toEqual([1]);
  });
  it('reads stdin with --input -', async () => {
    const text = JSON.stringify(validCase());
    const run = await sayoReward('-', text);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(JSON.parse(JSON.stringify(runCaseText(text))));
  });
  it('clips a box partly outside the image instead of rejecting it', async () => {
    const c = { ...validCase(), boxes: [[-40, -40, 20, 20]] };
    const run = await sayoReward(caseFile(JSON.stringify(c)));
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).target_tokens).toEqual([0]);
  });
});

describe('sayo reward: trainer fixtures through the CLI', () => {
  it('reproduces every case of fixtures/reward-cases.json within 1e-6', async () => {
    const cases = loadFixture<RewardFixture>('reward-cases.json');
    const runs = await inPool(cases, 2, (c) => sayoReward(caseFile(JSON.stringify(c.input))));
    cases.forEach((c, i) => {
      expect(runs[i].stderr, c.name).toBe('');
      expect(runs[i].status, c.name).toBe(0);
      expect(diffWithin(c.expected, JSON.parse(runs[i].stdout)), c.name).toEqual([]);
    });
  }, 600_000); // one npx spawn per fixture (~23): minutes when the shared cores are busy with training
});

type Mutate = (c: Record<string, any>) => unknown;
const invalid: [string, Mutate | string, RegExp][] = [
  ['missing field', (c) => ({ ...c, image: undefined }), /^image: missing$/],
  [
    'missing nested field',
    (c) => ({ ...c, processor: { ...c.processor, patch_size: undefined } }),
    /^processor\.patch_size: missing$/,
  ],
  ['missing entropy', (c) => ({ ...c, entropy: undefined }), /^entropy: missing$/],
  [
    'N ≠ rows·cols',
    (c) => ((c.attention[2][1] = c.attention[2][1].slice(1)), c),
    /^attention\[2\]\[1\]: expected 12 values \(rows·cols\), got 11$/,
  ],
  [
    'ragged heads',
    (c) => ((c.attention[1] = [c.attention[1][0]]), c),
    /^attention\[1\]: expected 2 heads \(as attention\[0\]\), got 1$/,
  ],
  ['entropy length', (c) => ({ ...c, entropy: [1, 2] }), /^entropy: expected 3 values \(one per token\), got 2$/],
  [
    'NaN attention (Python json literal)',
    (c) => JSON.stringify(c).replace(/^(.*?"attention":\[\[\[)[^,]+/, '$1NaN'),
    /^attention\[0\]\[0\]\[0\]: expected a finite attention value, got NaN$/,
  ],
  [
    'null attention',
    (c) => ((c.attention[0][1][5] = null), c),
    /^attention\[0\]\[1\]\[5\]: expected a finite attention value, got null$/,
  ],
  [
    'negative attention',
    (c) => ((c.attention[2][0][3] = -0.01), c),
    /^attention\[2\]\[0\]\[3\]: negative attention -0\.01$/,
  ],
  [
    'box wholly outside',
    (c) => ({
      ...c,
      boxes: [
        [0, 0, 10, 10],
        [200, 0, 300, 50],
      ],
    }),
    /^boxes\[1\]: \[200, 0, 300, 50\] lies wholly outside the 112×84 image$/,
  ],
  ['box of zero area', (c) => ({ ...c, boxes: [[10, 10, 10, 40]] }), /^boxes\[0\]: zero area \[10, 10, 10, 40\]$/],
  ['no target token', (c) => ({ ...c, boxes: [] }), /^boxes: no box: at least one key region is needed$/],
  [
    'aspect ratio > 200',
    (c) => ({ ...c, image: { width: 28 * 201, height: 28 } }),
    /^image: aspect ratio must be at most 200, got 201/,
  ],
  ['not JSON', () => '{"image": ', /^input: not valid JSON/],
  ['top_ratio out of range', (c) => ({ ...c, top_ratio: 0 }), /^top_ratio: expected 0 < top_ratio ≤ 1, got 0$/],
  ['eps not positive', (c) => ({ ...c, eps: -1 }), /^eps: expected eps > 0, got -1$/],
  [
    'alignment unknown',
    (c) => ({ ...c, alignment: 'output' }),
    /^alignment: expected one of "produced", "input", got "output"$/,
  ],
  [
    'non-integer image size',
    (c) => ({ ...c, image: { width: 100.5, height: 84 } }),
    /^image\.width: expected a positive integer, got 100\.5$/,
  ],
];

describe('sayo reward: invalid input exits 2 with one line naming the field', () => {
  it.each(invalid)('%s', async (_name, mutate, message) => {
    const made = typeof mutate === 'string' ? mutate : mutate(validCase());
    const text = typeof made === 'string' ? made : JSON.stringify(made);
    const run = await sayoReward(caseFile(text));
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0].startsWith('sayo reward: '), lines[0]).toBe(true);
    expect(lines[0].slice('sayo reward: '.length)).toMatch(message);
    expect(run.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  });
  it('an unreadable --input file', async () => {
    const run = await sayoReward(join(dir, 'does-not-exist.json'));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^sayo reward: --input: cannot read ".*does-not-exist\.json" \(ENOENT\)\n$/);
  });
});
