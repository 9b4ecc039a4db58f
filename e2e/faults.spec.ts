/**
 * @file Faults in real Chromium (WASM): a corrupt model URL must not poison later loads in the same tab (the embedded
 * model and a good URL load after it); a model URL that stalls or drips bytes forever ends with a clear error; a
 * hostile session kept in IndexedDB is dropped with a notice instead of freezing the tab at every visit; the app
 * ships its Content-Security-Policy and X-Content-Type-Options.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Page, type Route } from '@playwright/test';
import { openHarness } from './support/harness.ts';

const MINI = path.resolve('models/sayo-mini');
const FILES = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/vision_encoder.onnx', 'onnx/embed_tokens.onnx', 'onnx/decoder_model_merged.onnx'];

/** Serves SAYO-mini under /fault/<name>/ with `damage` applied to its files (same origin as the app). */
async function serveModel(page: Page, name: string, damage: (file: string, bytes: Buffer) => Buffer | 'stall' = (_f, b) => b) {
  await page.context().route(new RegExp(`/fault/${name}/`), async (route: Route) => {
    const file = new URL(route.request().url()).pathname.split(`/fault/${name}/`)[1];
    if (!FILES.includes(file)) return route.fulfill({ status: 404, body: 'not found' });
    const out = damage(file, fs.readFileSync(path.join(MINI, file)));
    if (out === 'stall') return; // never answered
    return route.fulfill({ status: 200, body: out, contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
  });
}

/** Loads a source in the page's (shared) worker engine: its info, or its error. */
function load(page: Page, source: object, backend = 'wasm') {
  return page.evaluate(
    async ([src, b]) => {
      const h = (window as any).sayoHarness;
      try {
        const info = await h.load(src, b);
        return { ok: true as const, backend: info.backend as string };
      } catch (e) {
        return { ok: false as const, code: (e as any).code as string, message: (e as Error).message };
      }
    },
    [source, backend] as const,
  );
}

test('a corrupt model URL does not poison later loads in the same tab', async ({ page }) => {
  // Every ONNX graph byte-flipped in its first kilobyte: onnxruntime cannot parse it.
  await serveModel(page, 'corrupt', (file, b) => (file.endsWith('.onnx') ? Buffer.concat([Buffer.alloc(1024, 0xff), b.subarray(1024)]) : b));
  await serveModel(page, 'good');
  await openHarness(page);
  const bad = await load(page, { kind: 'url', url: '/fault/corrupt/' });
  expect(bad).toMatchObject({ ok: false, code: 'corrupt_model' });
  const embedded = await load(page, { kind: 'registry', id: 'sayo-mini-base' });
  expect(embedded).toEqual({ ok: true, backend: 'wasm' });
  const good = await load(page, { kind: 'url', url: '/fault/good/' });
  expect(good).toEqual({ ok: true, backend: 'wasm' });
  // The loaded model still answers after the failure.
  const answered = await page.evaluate(async () => (await (window as any).sayoHarness.answer('What shape is it?', 2)).tokens);
  expect(answered).toBeGreaterThan(0);
});
