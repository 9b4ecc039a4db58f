/**
 * @file Folders written by `sayo_train export` load in transformers.js in real Chromium (WASM): tiny random-weight
 * Qwen2-VL, Qwen2.5-VL and Qwen3-VL checkpoints from Hugging Face's own classes, exported by
 * training/sayo_train/hf_export/browser_fixture.py together with HF's answer (reference.json). The page's worker engine
 * loads each folder by URL and must reproduce HF's prompt ids, its greedy tokens and, per token, its attention over the
 * image tokens (every decoder layer, every head) within 1e-4. The Qwen2-VL q4 export (int4 MatMul weights and int4
 * embedding table) must give the answer its own graphs give in onnxruntime (CPU), within the same 1e-4. The exporter
 * writes only the last query row of each call's attention ([1, heads, 1, total]); teacher-forced scoring of HF's
 * tokens must reproduce the same rows, on WASM and (Qwen2-VL) on WebGPU.
 *
 * The folders are built once per version of the exporter (cache key: its sources, the tokenizer and
 * training/requirements.lock) under test-results/exports/<hash>, and served to the page under /e2e-exports/ by a
 * Playwright route (the app itself only serves models/).
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { PREVIEW_URL } from './support/chromium.ts';
import { openHarness, runHarness, watchRequests, type PlainStep } from './support/harness.ts';
import { maxAbsDiff } from './support/reference.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const EXPORTER = path.join(ROOT, 'training/sayo_train/hf_export');
const KEY_FILES = [
  ...fs.readdirSync(EXPORTER).filter((f) => f.endsWith('.py')).sort().map((f) => path.join(EXPORTER, f)),
  path.join(ROOT, 'training/sayo_train/tokenizer.py'),
  path.join(ROOT, 'training/requirements.lock'),
];
const FAMILIES = ['qwen2_vl', 'qwen2_5_vl', 'qwen3_vl'] as const;
const MAX_NEW_TOKENS = 4;
const SERVE_PREFIX = '/e2e-exports/';

/** One greedy answer: its tokens and, per token, the attention row over the image tokens (StepRecord layout). */
interface Answer {
  tokens: number[];
  attention: number[][];
}

interface FamilyReference extends Answer {
  question: string;
  inputIds: number[];
  grid: { rows: number; cols: number };
  imageSpan: { start: number; length: number };
  layers: number[];
  heads: number;
  /** The q4 graphs' own greedy answer in onnxruntime (CPU), for the families exported in q4 too. */
  q4?: Answer;
}

/** The exported folders + reference.json, built by Python once per exporter version. */
function buildExports(): string {
  const h = crypto.createHash('sha256');
  for (const f of KEY_FILES) h.update(path.relative(ROOT, f)).update(fs.readFileSync(f));
  h.update(String(MAX_NEW_TOKENS));
  const dir = path.join(ROOT, 'test-results/exports', h.digest('hex').slice(0, 16));
  if (fs.existsSync(path.join(dir, 'done'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const run = spawnSync(PYTHON, ['-m', 'sayo_train.hf_export.browser_fixture', tmp, String(MAX_NEW_TOKENS)], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, PYTHONPATH: path.join(ROOT, 'training') },
  });
  if (run.error) throw new Error(`cannot run ${PYTHON} (${run.error.message}): create the venv with bash training/tools/venv.sh`);
  if (run.status !== 0) throw new Error(`browser_fixture.py failed (${run.status}): ${run.stderr.slice(-3000)}`);
  fs.writeFileSync(path.join(tmp, 'done'), run.stdout);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}

/** Serves <dir>/<family>/… under the preview origin's /e2e-exports/ (a missing file is a 404, as on a real host). */
async function serveExports(context: BrowserContext, dir: string): Promise<void> {
  await context.route(`${PREVIEW_URL}${SERVE_PREFIX}**`, async (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname.slice(SERVE_PREFIX.length));
    const family = rel.split('/')[0];
    const file = path.join(dir, rel);
    if (!FAMILIES.includes(family as (typeof FAMILIES)[number]) || rel.split('/').includes('..') || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      await route.fulfill({ status: 404, contentType: 'text/plain', body: `404: ${rel}` });
      return;
    }
    await route.fulfill({ status: 200, contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream', body: fs.readFileSync(file) });
  });
}

let dir: string;
let reference: Record<string, FamilyReference>;

test.beforeAll(() => {
  test.setTimeout(300_000);
  dir = buildExports();
  reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
});

/** Loads the exported folder by URL in the page's worker engine (WASM) and answers the reference question. */
async function answer(page: Page, context: BrowserContext, family: string, dtype?: string, score = false, backend: 'wasm' | 'webgpu' = 'wasm') {
  const ref = reference[family];
  await serveExports(context, dir);
  const net = watchRequests(page, PREVIEW_URL);
  await openHarness(page);
  const r = await runHarness(page, {
    source: { kind: 'url', url: `${SERVE_PREFIX}${family}/` },
    backend,
    dtype,
    imageBase64: fs.readFileSync(path.join(dir, `${family}.png`)).toString('base64'),
    question: ref.question,
    maxNewTokens: MAX_NEW_TOKENS,
    score,
  });
  expect(r.error).toBeUndefined();
  expect(r.info).toMatchObject({ backend, modelType: family, attentionLayers: ref.layers, numHeads: ref.heads });
  if (dtype !== 'q4') expect(r.info!.speedNote).toBeUndefined();
  expect(r.prompt!.notice).toBeUndefined(); // the image is already the processor's size: no resize on either side
  expect(r.prompt!.grid).toEqual(ref.grid);
  expect(r.prompt!.imageSpan).toEqual(ref.imageSpan);
  expect(r.prompt!.inputIds).toEqual(ref.inputIds);
  // The three graphs came from the exported folder, in the asked precision, and nothing left the machine.
  const graphs = net.urls.filter((u) => u.startsWith(`${PREVIEW_URL}${SERVE_PREFIX}${family}/onnx/`)).map((u) => new URL(u).pathname.split('/').pop());
  const suffix = dtype === 'q4' ? '_q4' : '';
  expect([...new Set(graphs)].sort()).toEqual(['decoder_model_merged', 'embed_tokens', 'vision_encoder'].map((g) => `${g}${suffix}.onnx`));
  expect(net.foreign()).toEqual([]);
  return r;
}

/** Greedy tokens equal and every attention row within 1e-4; returns the largest |Δ|. */
function expectAnswer(steps: PlainStep[], want: Answer, ref: FamilyReference): number {
  expect(steps.map((s) => s.tokenId)).toEqual(want.tokens);
  let worst = 0;
  steps.forEach((s, i) => {
    expect(s.layers).toEqual(ref.layers);
    expect(s.heads).toBe(ref.heads);
    expect(s.attention).toHaveLength(want.attention[i].length);
    const d = maxAbsDiff(s.attention, want.attention[i]);
    expect(d, `step ${i}`).toBeLessThanOrEqual(1e-4);
    worst = Math.max(worst, d);
  });
  return worst;
}

for (const family of FAMILIES) {
  test(`WASM: the exported ${family} folder answers and scores as Hugging Face does (prompt ids, greedy tokens, attention ≤ 1e-4)`, async ({ page, context }) => {
    const ref = reference[family];
    const r = await answer(page, context, family, undefined, true);
    const worst = expectAnswer(r.steps, ref, ref);
    const scored = expectAnswer(r.scoreSteps!, ref, ref);
    console.log(`${family} fp32: ${r.steps.length} tokens equal to HF's, attention max |Δ| ${worst.toExponential(1)} (scored ${scored.toExponential(1)}) over ${ref.layers.length} layers × ${ref.heads} heads × ${ref.imageSpan.length} image tokens`);
  });
}

test('WebGPU (SwiftShader): the exported qwen2_vl folder (last-row attention outputs) answers and scores as Hugging Face does', async ({ page, context }) => {
  const ref = reference.qwen2_vl;
  const r = await answer(page, context, 'qwen2_vl', undefined, true, 'webgpu');
  const worst = Math.max(expectAnswer(r.steps, ref, ref), expectAnswer(r.scoreSteps!, ref, ref));
  console.log(`qwen2_vl fp32 on WebGPU: ${r.steps.length} tokens equal to HF's, attention max |Δ| ${worst.toExponential(1)}`);
});

test('WASM: the q4 export (int4 MatMulNBits and int4 embedding table) answers as its graphs do in onnxruntime', async ({ page, context }) => {
  const ref = reference.qwen2_vl;
  const r = await answer(page, context, 'qwen2_vl', 'q4');
  expect(r.info!.speedNote).toMatch(/4-bit decoder runs on WASM/); // no 4-bit kernel there: the model says so
  const worst = expectAnswer(r.steps, ref.q4!, ref);
  console.log(`qwen2_vl q4: ${r.steps.length} tokens equal to onnxruntime's, attention max |Δ| ${worst.toExponential(1)}`);
});
