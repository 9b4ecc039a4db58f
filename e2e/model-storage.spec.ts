/**
 * @file Model files kept across visits in real Chromium: a file the engine keeps in the origin-private file system
 * (forced there by `opfsAboveBytes`, as a file Cache Storage refuses is) survives a page reload and loads without a
 * network fetch; with a real storage quota too small for the model (set through the DevTools protocol), neither Cache
 * Storage nor the origin-private file system can keep the decoder, and the model's info — and the app, beside the
 * model — says so and why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { PREVIEW_URL } from '../lab/support/chromium.ts';
import { openHarness, runHarness, watchRequests } from './support/harness.ts';
import { parityImage } from '../lab/support/reference.ts';

const QUESTION = 'What shape is the blue object?';
// The embedded model by URL (revision "url"), as a model on another host is loaded.
const SOURCE = { kind: 'url' as const, url: '/models/sayo-mini/' };
const ABOVE = 1_000_000; // the decoder (3.5 MB) and the vision graph (2 MB) are larger; the embedding (0.3 MB) is not
const ONNX = path.resolve(import.meta.dirname, '../models/sayo-mini/onnx');
const LARGE = ['vision_encoder.onnx', 'decoder_model_merged.onnx'].map((f) => fs.statSync(path.join(ONNX, f)).size);
/** Sizes of the folder's other files (config, tokenizer, processor, embedding graph). */
const SMALL = [...fs.readdirSync(path.dirname(ONNX)), 'onnx/embed_tokens.onnx']
  .map((f) => path.join(path.dirname(ONNX), f))
  .filter((f) => fs.statSync(f).isFile())
  .map((f) => fs.statSync(f).size);

/** Files in the engine's origin-private folder: name → size. */
function opfsFiles(page: Page): Promise<Record<string, number>> {
  return page.evaluate(async () => {
    const out: Record<string, number> = {};
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('sayo-lens-models').catch(() => null);
    if (!dir) return out;
    for await (const [name, h] of (dir as any).entries())
      out[name] = (await (h as FileSystemFileHandle).getFile()).size;
    return out;
  });
}

/** URLs of the Cache Storage entries of the engine's cache. */
function cachedUrls(page: Page): Promise<string[]> {
  return page.evaluate(async () => (await (await caches.open('sayo-lens-models')).keys()).map((r) => r.url));
}

test.describe('model storage', () => {
  let image: string;
  test.beforeAll(async () => {
    image = (await parityImage()).toString('base64');
  });

  test('files above opfsAboveBytes are kept in the origin-private file system and load from it after a reload', async ({
    page,
  }) => {
    await openHarness(page);
    const first = await runHarness(page, {
      source: SOURCE,
      backend: 'wasm',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 2,
      opfsAboveBytes: ABOVE,
    });
    expect(first.error).toBeUndefined();
    const kept = await opfsFiles(page);
    expect(Object.values(kept).sort((a, b) => a - b)).toEqual([...LARGE].sort((a, b) => a - b));
    const cached = await cachedUrls(page);
    expect(cached.some((u) => u.includes('/models/sayo-mini/onnx/embed_tokens.onnx'))).toBe(true);
    expect(cached.filter((u) => /decoder_model_merged|vision_encoder/.test(u))).toEqual([]);
    const persisted = await page.evaluate(() => navigator.storage.persisted());
    // Persistence was asked for before the load (a model by URL); the note says when the browser did not grant it.
    if (persisted) expect(first.info.storageNote).toBeUndefined();
    else expect(first.info.storageNote).toMatch(/origin-private file system.*persistent storage/);

    await page.reload();
    const net = watchRequests(page, PREVIEW_URL);
    await openHarness(page);
    const again = await runHarness(page, {
      source: SOURCE,
      backend: 'wasm',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 2,
      opfsAboveBytes: ABOVE,
    });
    expect(again.error).toBeUndefined();
    expect(again.steps.map((s) => s.tokenId)).toEqual(first.steps.map((s) => s.tokenId));
    expect(net.urls.filter((u) => u.includes('/models/sayo-mini/'))).toEqual([]);
    console.log(
      `kept in OPFS: ${Object.keys(kept).length} files (${Object.values(kept).join(', ')} bytes); persisted: ${persisted}; second visit: 0 model requests`,
    );
  });

  test('a quota too small for the model: it still answers, and its info says which file is not kept and why', async ({
    page,
  }) => {
    await openHarness(page);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: PREVIEW_URL, quotaSize: 1_000_000 });
    const r = await runHarness(page, {
      source: SOURCE,
      backend: 'wasm',
      imageBase64: image,
      question: QUESTION,
      maxNewTokens: 2,
    });
    expect(r.error).toBeUndefined();
    expect(r.steps).toHaveLength(2);
    expect(r.info.storageNote).toMatch(
      /decoder_model_merged\.onnx.*could not be kept.*downloaded again on the next visit/,
    );
    expect(r.info.storageNote).toMatch(/Cache Storage: \w+.*origin-private file system: \w+/);
    // The refused large files left nothing behind (a failed write removes its file). A small file Cache Storage
    // refused under the same quota may be kept in the private file system, whole: which ones depends on the order
    // the quota fills in.
    const kept = Object.values(await opfsFiles(page));
    for (const size of LARGE) expect(kept).not.toContain(size);
    expect(kept.every((size) => SMALL.includes(size))).toBe(true);
    console.log(`storage note: ${r.info.storageNote}`);
  });

  test('the app shows the note beside the model that cannot be kept', async ({ page }) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: PREVIEW_URL, quotaSize: 1_000_000 });
    await page.goto('/?backend=wasm');
    for (const side of ['base', 'trained']) {
      await expect(page.getByTestId(`model-status-${side}`)).toHaveAttribute('data-state', 'ready', {
        timeout: 120_000,
      });
      await expect(page.getByTestId(`storage-note-${side}`)).toContainText(
        /decoder_model_merged\.onnx.*could not be kept.*QuotaExceededError/,
      );
    }
  });
});
