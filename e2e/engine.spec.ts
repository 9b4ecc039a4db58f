/**
 * @file Engine e2e in real Chromium: the worker engine loads the embedded pair on WASM and on WebGPU (SwiftShader),
 * streams step records, and matches onnxruntime-node (greedy tokens equal, attentions within 1e-4 on WASM and 2e-4 on
 * SwiftShader's WebGPU, rows sum to 1).
 * Also: files come from the app (no CDN, 404 stays 404), Cache Storage on a second visit, cancel, picked folders,
 * and a WebGPU device destroyed mid-answer.
 */
import { expect, test } from '@playwright/test';
import { PREVIEW_URL } from '../lab/support/chromium.ts';
import { openHarness, pageAdapter, runHarness, watchRequests, type HarnessResult } from './support/harness.ts';
import { maxAbsDiff, nodeSteps, parityImage } from '../lab/support/reference.ts';
import type { StepRecord } from '../src/engine/types.ts';

const QUESTION = 'What shape is the blue object?';

/** Streaming + capture invariants shared by every path. */
function expectStreamedSteps(r: HarnessResult, count: number): void {
  expect(r.error).toBeUndefined();
  expect(r.steps).toHaveLength(count);
  const n = r.prompt!.grid.rows * r.prompt!.grid.cols;
  for (const s of r.steps) {
    expect(s.attention).toHaveLength(s.layers.length * s.heads * n);
    for (const sum of s.rowSum) expect(Math.abs(sum - 1)).toBeLessThan(1e-4);
  }
  // Step records arrive while the answer is produced, not with the result.
  expect(r.firstStepMs!).toBeLessThan(r.runMs);
  for (let i = 1; i < r.steps.length; i++) expect(r.steps[i].at).toBeGreaterThanOrEqual(r.steps[i - 1].at);
}

/**
 * Greedy tokens equal and attentions within `bound` of the onnxruntime-node reference: 1e-4 on WASM (the same CPU
 * kernels' arithmetic); 2e-4 on SwiftShader's WebGPU, whose fp32 shaders sum the softmax and the matrix products in
 * another order (measured on the Qwen3-VL pair: up to 1.08e-4 at one step of three, 3.6e-5 and 9.7e-6 at the others).
 */
function expectParity(browser: HarnessResult['steps'], reference: StepRecord[], bound = 1e-4): void {
  expect(browser.map((s) => s.tokenId)).toEqual(reference.slice(0, browser.length).map((s) => s.tokenId));
  const diffs = browser.map((s, i) => maxAbsDiff(s.attention, reference[i].attention));
  expect(Math.max(...diffs), `max |Δ| per step ${diffs.map((d) => d.toExponential(2)).join(', ')}`).toBeLessThan(bound);
}

test.describe('engine in Chromium', () => {
  let image: string;
  let reference: StepRecord[];
  test.beforeAll(async () => {
    const png = await parityImage();
    image = png.toString('base64');
    reference = await nodeSteps('sayo-mini', png, QUESTION, 8);
  });

  test('WASM: loads the embedded pair, streams attention, matches onnxruntime-node', async ({ page }) => {
    const net = watchRequests(page, PREVIEW_URL);
    await openHarness(page);
    const r = await runHarness(page, {
      source: { kind: 'registry', id: 'sayo-mini' },
      backend: 'wasm',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 8,
      score: true,
    });
    expect(r.info.backend).toBe('wasm');
    expect(r.info.attentionLayers.length).toBeGreaterThan(0);
    expect(r.prompt!.notice).toBeUndefined(); // no resize: the parity image is whole cells within max_pixels
    expectStreamedSteps(r, reference.length);
    expectParity(r.steps, reference);
    r.scoreSteps!.forEach((s, i) => expect(maxAbsDiff(s.attention, r.steps[i].attention)).toBeLessThan(1e-4));
    const onnxFiles = r.progress.filter((p) => p.done && p.file.endsWith('.onnx'));
    expect(onnxFiles.map((p) => p.file).sort()).toEqual([
      'onnx/decoder_model_merged.onnx',
      'onnx/embed_tokens.onnx',
      'onnx/vision_encoder.onnx',
    ]);
    for (const p of onnxFiles) expect(p.loaded).toBeGreaterThan(100_000);

    const base = await runHarness(page, {
      source: { kind: 'registry', id: 'sayo-mini-base' },
      backend: 'wasm',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 4,
    });
    expectStreamedSteps(base, base.steps.length);
    expect(base.steps.length).toBeGreaterThan(0);
    expect(net.foreign()).toEqual([]);
    // A worker that starts on WASM runs ORT's WASM-only build (smaller, faster), served by the app.
    expect(net.urls.some((u) => u.endsWith('/ort/ort-wasm-simd-threaded.wasm'))).toBe(true);
  });

  test('WebGPU (SwiftShader): loads the embedded pair, streams attention, matches onnxruntime-node', async ({
    page,
  }) => {
    await openHarness(page);
    const adapter = await pageAdapter(page);
    expect(adapter, 'no WebGPU adapter: is --enable-unsafe-webgpu missing?').toMatchObject({
      available: true,
      architecture: 'swiftshader',
    });
    const r = await runHarness(page, {
      source: { kind: 'registry', id: 'sayo-mini' },
      backend: 'webgpu',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 3,
    });
    expect(r.info.backend).toBe('webgpu');
    expect(r.info.backendReason).toMatch(/swiftshader/);
    expectStreamedSteps(r, Math.min(3, reference.length));
    expectParity(r.steps, reference, 2e-4);
    const base = await runHarness(page, {
      source: { kind: 'registry', id: 'sayo-mini-base' },
      backend: 'webgpu',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 2,
      reuse: true,
    });
    expect(base.info.backend).toBe('webgpu');
    expectStreamedSteps(base, base.steps.length);
  });

  test('WebGPU device lost mid-answer: explains, reloads on WASM, answers again', async ({ page }) => {
    await openHarness(page);
    const r = await runHarness(page, {
      source: { kind: 'registry', id: 'sayo-mini' },
      backend: 'webgpu',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 6,
      minNewTokens: 6,
      destroyDeviceAfter: 1,
    });
    expect(r.info.backend).toBe('webgpu');
    expect(r.error?.code).toBe('device_lost');
    expect(r.error?.message).toMatch(/reloaded on WASM/);
    expect(r.modelInfoChanges.at(-1)?.backend).toBe('wasm');
    expect(r.retry?.tokens).toBeGreaterThan(0);
  });

  test('WebGPU after a WASM start: the client restarts the worker and the WASM model keeps answering', async ({
    page,
  }) => {
    await openHarness(page);
    const common = { imageBase64: image, question: QUESTION, maxNewTokens: 2 };
    const a = await runHarness(page, {
      ...common,
      source: { kind: 'registry', id: 'sayo-mini-base' },
      backend: 'wasm',
    });
    const b = await runHarness(page, {
      ...common,
      source: { kind: 'registry', id: 'sayo-mini' },
      backend: 'webgpu',
      reuse: true,
    });
    expect(b.info.backend).toBe('webgpu');
    expect(b.steps).toHaveLength(2);
    const c = await runHarness(page, {
      ...common,
      source: { kind: 'registry', id: 'sayo-mini-base' },
      backend: 'wasm',
      reuse: true,
    });
    expect(c.info.handle).toBe(a.info.handle);
    expect(c.steps.map((s) => s.tokenId)).toEqual(a.steps.map((s) => s.tokenId));
  });

  test('cancel mid-answer through the worker', async ({ page }) => {
    await openHarness(page);
    const r = await runHarness(page, {
      source: { kind: 'registry', id: 'sayo-mini' },
      backend: 'wasm',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 400,
      minNewTokens: 400,
      cancelAfter: 2,
    });
    expect(r.summary?.stoppedBy).toBe('cancel');
    expect(r.summary?.tokens).toBe(r.steps.length);
    expect(r.steps.length).toBeGreaterThanOrEqual(2);
    // The cancel message lands between steps; a few more may be produced while it travels.
    expect(r.steps.length).toBeLessThan(200);
  });

  test('a picked folder loads; a folder without config.json is refused clearly', async ({ page }) => {
    await openHarness(page);
    const r = await page.evaluate(async (img) => {
      const names = [
        'config.json',
        'generation_config.json',
        'preprocessor_config.json',
        'tokenizer.json',
        'tokenizer_config.json',
        'onnx/vision_encoder.onnx',
        'onnx/embed_tokens.onnx',
        'onnx/decoder_model_merged.onnx',
      ];
      const files: Record<string, Blob> = {};
      for (const n of names) files[`sayo-mini/${n}`] = await (await fetch(`/models/sayo-mini/${n}`)).blob();
      const ok = await window.sayoHarness.run({
        source: { kind: 'files', files },
        backend: 'wasm',
        imageBase64: img,
        question: 'What?',
        maxNewTokens: 2,
      });
      delete files['sayo-mini/config.json'];
      const bad = await window.sayoHarness
        .run({ source: { kind: 'files', files }, backend: 'wasm', imageBase64: img, question: 'What?' })
        .catch((e) => ({ code: e.code, message: e.message }));
      return { steps: ok.steps.length, bad };
    }, image);
    expect(r.steps).toBe(2);
    expect(r.bad).toMatchObject({ code: 'missing_file' });
  });

  test('model files come from the app: 404 stays 404; a second visit loads from Cache Storage', async ({ page }) => {
    const missing = await page.request.get('/models/sayo-mini/no-such-file.json');
    expect(missing.status()).toBe(404);
    expect(missing.headers()['content-type']).not.toMatch(/html/);
    const wasm = await page.request.get('/ort/ort-wasm-simd-threaded.asyncify.wasm');
    expect(wasm.status()).toBe(200);
    expect(wasm.headers()['content-type']).toBe('application/wasm');

    await openHarness(page);
    await runHarness(page, {
      source: { kind: 'registry', id: 'sayo-mini' },
      backend: 'wasm',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 1,
    });
    const net = watchRequests(page, PREVIEW_URL);
    await page.reload();
    await openHarness(page);
    const again = await runHarness(page, {
      source: { kind: 'registry', id: 'sayo-mini' },
      backend: 'wasm',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 1,
    });
    expect(again.steps).toHaveLength(1);
    expect(net.urls.filter((u) => u.includes('/models/sayo-mini/'))).toEqual([]);
    expect(again.progress.filter((p) => p.done).length).toBeGreaterThanOrEqual(3);
  });
});
