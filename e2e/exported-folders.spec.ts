/**
 * @file Folders written by `sayo_train export` load in transformers.js in real Chromium (WASM): tiny random-weight
 * Qwen2-VL, Qwen2.5-VL and Qwen3-VL checkpoints (Qwen3-VL without and with DeepStack) from Hugging Face's own
 * classes, exported by training/sayo_train/hf_export/browser_fixture.py together with HF's answer (reference.json).
 * The page's worker engine loads each folder by URL and must reproduce HF's prompt ids, its greedy tokens and, per
 * token, its attention over the image tokens (every decoder layer, every head) within 1e-4. The Qwen2-VL q4 export
 * (int4 MatMul weights and int4 embedding table) must give the answer its own graphs give in onnxruntime (CPU), within
 * the same 1e-4. The exporter writes only the last query row of each call's attention ([1, heads, 1, total]);
 * teacher-forced scoring of HF's tokens must reproduce the same rows, on WASM and (Qwen2-VL, Qwen3-VL with DeepStack)
 * on WebGPU. The DeepStack folder's scoring call carries the image, so its rows match only if scoring applies
 * DeepStack as generation does; transformers.js's own generate() (no engine code, its own worker) must give HF's
 * answer on that folder too. A Qwen3-VL folder whose config lists DeepStack but whose graphs carry none answers, and
 * the engine's info and the app say it runs without DeepStack.
 *
 * The folders are built once per version of the exporter (lab/support/exports.ts, shared with the Node tests) under
 * test-results/exports/<hash>, and served to the page under /e2e-exports/ by a Playwright route (the app itself only
 * serves models/).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { PREVIEW_URL } from '../lab/support/chromium.ts';
import {
  buildExports,
  EXPORT_BUILD_TIMEOUT_MS,
  EXPORT_FAMILIES as FAMILIES,
  EXPORT_MAX_NEW_TOKENS as MAX_NEW_TOKENS,
  type ExportAnswer as Answer,
  type ExportReference as FamilyReference,
  type ExportFamily,
  type Exports,
} from '../lab/support/exports.ts';
import { openHarness, runHarness, watchRequests, type PlainStep } from './support/harness.ts';
import { maxAbsDiff } from '../lab/support/reference.ts';

const SERVE_PREFIX = '/e2e-exports/';

/**
 * Served as the qwen3_vl folder with config.json listing DeepStack [0, 1]: what an exporter that drops DeepStack
 * writes for a Qwen3-VL checkpoint with it (the graphs' rows are `hidden` wide).
 */
const WITHOUT_DEEPSTACK = 'qwen3_vl_without_deepstack';

/** Serves <dir>/<family>/… under the preview origin's /e2e-exports/ (a missing file is a 404, as on a real host). */
async function serveExports(context: BrowserContext, dir: string): Promise<void> {
  await context.route(`${PREVIEW_URL}${SERVE_PREFIX}**`, async (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname.slice(SERVE_PREFIX.length));
    const [served, ...rest] = rel.split('/');
    const family = served === WITHOUT_DEEPSTACK ? 'qwen3_vl' : served;
    const file = path.join(dir, family, ...rest);
    if (
      !FAMILIES.includes(family as (typeof FAMILIES)[number]) ||
      rel.split('/').includes('..') ||
      !fs.statSync(file, { throwIfNoEntry: false })?.isFile()
    ) {
      await route.fulfill({ status: 404, contentType: 'text/plain', body: `404: ${rel}` });
      return;
    }
    let body = fs.readFileSync(file);
    if (served === WITHOUT_DEEPSTACK && rest.join('/') === 'config.json') {
      const config = JSON.parse(body.toString('utf8'));
      config.vision_config.deepstack_visual_indexes = [0, 1];
      body = Buffer.from(JSON.stringify(config));
    }
    await route.fulfill({
      status: 200,
      contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      body,
    });
  });
}

let exports: Exports;
let dir: string;
let reference: Record<string, FamilyReference>;

test.beforeAll(() => {
  test.setTimeout(EXPORT_BUILD_TIMEOUT_MS);
  exports = buildExports();
  dir = exports.dir;
  reference = exports.reference;
});

/** Loads the exported folder by URL in the page's worker engine (WASM) and answers the reference question. */
async function answer(
  page: Page,
  context: BrowserContext,
  family: ExportFamily,
  dtype?: string,
  score = false,
  backend: 'wasm' | 'webgpu' = 'wasm',
) {
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
  expect(r.info).toMatchObject({
    backend,
    modelType: exports.modelType(family),
    attentionLayers: ref.layers,
    numHeads: ref.heads,
  });
  if (dtype !== 'q4') expect(r.info!.speedNote).toBeUndefined();
  expect(r.info!.architectureNote).toBeUndefined(); // every folder here carries what its config lists
  expect(r.prompt!.notice).toBeUndefined(); // the image is already the processor's size: no resize on either side
  expect(r.prompt!.grid).toEqual(ref.grid);
  expect(r.prompt!.imageSpan).toEqual(ref.imageSpan);
  expect(r.prompt!.inputIds).toEqual(ref.inputIds);
  // The three graphs came from the exported folder, in the asked precision, and nothing left the machine.
  const graphs = net.urls
    .filter((u) => u.startsWith(`${PREVIEW_URL}${SERVE_PREFIX}${family}/onnx/`))
    .map((u) => new URL(u).pathname.split('/').pop());
  const suffix = dtype === 'q4' ? '_q4' : '';
  expect([...new Set(graphs)].sort()).toEqual(
    ['decoder_model_merged', 'embed_tokens', 'vision_encoder'].map((g) => `${g}${suffix}.onnx`),
  );
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
  test(`WASM: the exported ${family} folder answers and scores as Hugging Face does (prompt ids, greedy tokens, attention ≤ 1e-4)`, async ({
    page,
    context,
  }) => {
    const ref = reference[family];
    const r = await answer(page, context, family, undefined, true);
    const worst = expectAnswer(r.steps, ref, ref);
    const scored = expectAnswer(r.scoreSteps!, ref, ref);
    console.log(
      `${family} fp32: ${r.steps.length} tokens equal to HF's, attention max |Δ| ${worst.toExponential(1)} (scored ${scored.toExponential(1)}) over ${ref.layers.length} layers × ${ref.heads} heads × ${ref.imageSpan.length} image tokens`,
    );
  });
}

for (const family of ['qwen2_vl', 'qwen3_vl_deepstack'] as const) {
  test(`WebGPU (SwiftShader): the exported ${family} folder (last-row attention outputs) answers and scores as Hugging Face does`, async ({
    page,
    context,
  }) => {
    const ref = reference[family];
    const r = await answer(page, context, family, undefined, true, 'webgpu');
    const worst = expectAnswer(r.steps, ref, ref);
    const scored = expectAnswer(r.scoreSteps!, ref, ref);
    console.log(
      `${family} fp32 on WebGPU: ${r.steps.length} tokens equal to HF's, attention max |Δ| ${worst.toExponential(1)} (scored ${scored.toExponential(1)})`,
    );
  });
}

test('WASM: stock transformers.js generate() (its own worker, no engine code) answers the DeepStack folder as Hugging Face does', async ({
  page,
  context,
}) => {
  const ref = reference.qwen3_vl_deepstack;
  await serveExports(context, dir);
  await openHarness(page);
  const r = await page.evaluate((o) => window.sayoHarness.tjs(o), {
    url: `${SERVE_PREFIX}qwen3_vl_deepstack/`,
    threads: 1,
    imageBase64: exports.image('qwen3_vl_deepstack').toString('base64'),
    question: ref.question,
    tokens: MAX_NEW_TOKENS,
    attentions: true,
    answer: true,
  });
  expect(r.error).toBeUndefined();
  const a = r.figures!.answer!;
  expect(a.inputIds).toEqual(ref.inputIds);
  expect(a.imageSpan).toEqual(ref.imageSpan);
  expect(a.tokens).toEqual(ref.tokens);
  expect(a.attention).toHaveLength(ref.tokens.length);
  const worst = Math.max(...a.attention.map((row, i) => maxAbsDiff(row, ref.attention[i])));
  expect(worst).toBeLessThanOrEqual(1e-4);
  console.log(
    `qwen3_vl_deepstack, stock transformers.js generate() on WASM: ${a.tokens.length} tokens equal to HF's, attention max |Δ| ${worst.toExponential(1)}`,
  );
});

test('WASM: a Qwen3-VL folder whose config lists DeepStack but whose graphs carry none answers, and its info says it runs without DeepStack', async ({
  page,
  context,
}) => {
  const ref = reference.qwen3_vl;
  await serveExports(context, dir);
  await openHarness(page);
  const r = await runHarness(page, {
    source: { kind: 'url', url: `${SERVE_PREFIX}${WITHOUT_DEEPSTACK}/` },
    backend: 'wasm',
    imageBase64: exports.image('qwen3_vl').toString('base64'),
    question: ref.question,
    maxNewTokens: 2,
  });
  expect(r.error).toBeUndefined();
  expect(r.info!.architectureNote).toMatch(
    /^This model runs without DeepStack: .*\[0,1\].*not the model's.*python -m sayo_train export/,
  );
  expect(r.steps.map((s) => s.tokenId)).toEqual(ref.tokens.slice(0, 2)); // the qwen3_vl graphs' own answer
});

test('the app shows, beside a Qwen3-VL checkpoint loaded by URL whose graphs carry no DeepStack, that it runs without DeepStack', async ({
  page,
  context,
}) => {
  await serveExports(context, dir);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('model-status-trained')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await page
    .locator('details.add-checkpoint')
    .filter({ has: page.getByTestId('url-trained') })
    .locator('summary')
    .click();
  await page.getByTestId('url-trained').fill(`${PREVIEW_URL}${SERVE_PREFIX}${WITHOUT_DEEPSTACK}/`);
  await page.getByTestId('url-trained').press('Enter');
  await expect(page.getByTestId('model-status-trained')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await expect(page.getByTestId('architecture-note-trained')).toContainText(
    /runs without DeepStack.*not the model's.*python -m sayo_train export/,
  );
  await expect(page.getByTestId('architecture-note-base')).toHaveCount(0);
});

test('WASM: the q4 export (int4 MatMulNBits and int4 embedding table) answers as its graphs do in onnxruntime', async ({
  page,
  context,
}) => {
  const ref = reference.qwen2_vl;
  const r = await answer(page, context, 'qwen2_vl', 'q4');
  expect(r.info!.speedNote).toMatch(/4-bit decoder runs on WASM/); // no 4-bit kernel there: the model says so
  const worst = expectAnswer(r.steps, ref.q4!, ref);
  console.log(
    `qwen2_vl q4: ${r.steps.length} tokens equal to onnxruntime's, attention max |Δ| ${worst.toExponential(1)}`,
  );
});
