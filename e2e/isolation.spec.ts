/**
 * @file Cross-origin isolation and WASM threads in real Chromium: the preview server sends COOP same-origin + COEP
 * credentialless (build/security-headers.ts), so the app and the harness are cross-origin isolated, and the worker
 * engine reports the ONNX Runtime threads it used: SAYO-mini by the rule (one thread), two when asked (the client
 * restarts the worker whose pool one thread sized), with ORT's pthread worker really started under the app's CSP, the
 * same greedy answer, and the first model still answering under its handle. The same page served without those
 * headers (a static host) is not isolated and answers on one thread, saying why when more was asked.
 */
import { expect, test, type Page } from '@playwright/test';
import { openHarness, runHarness } from './support/harness.ts';

const QUESTION = 'What shape is the blue object?';
const common = {
  source: { kind: 'registry' as const, id: 'sayo-mini' },
  backend: 'wasm' as const,
  imageUrl: '/samples/sample-01.png',
  question: QUESTION,
  maxNewTokens: 4,
};

/** Workers the page (and its workers) start, by URL. */
function watchWorkers(page: Page): string[] {
  const urls: string[] = [];
  page.on('worker', (w) => urls.push(w.url()));
  return urls;
}

test('the app is cross-origin isolated; the WASM engine runs one thread for SAYO-mini, two when asked (a fresh worker), and says so', async ({
  page,
}) => {
  const res = await page.goto('/');
  expect(res?.headers()).toMatchObject({
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'credentialless',
  });
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);

  const workers = watchWorkers(page);
  await openHarness(page);
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
  const one = await runHarness(page, { ...common, slot: 'rule' });
  expect(one.error).toBeUndefined();
  expect(one.info.threads).toBe(1); // 3.5 MB decoder: below MULTI_THREAD_BYTES
  expect(one.info.threadsNote).toBeUndefined();
  // One thread: the engine worker only, no ORT pthread.
  expect(workers.filter((u) => u.startsWith('blob:'))).toEqual([]);

  // Two threads asked of the same engine, whose pool one thread sized: the client restarts the worker with this
  // model first (a pool of two) and reloads the first model into it under its handle.
  const two = await runHarness(page, { ...common, slot: 'rule', reuse: true, threads: 2 });
  expect(two.error).toBeUndefined();
  expect(two.info.threads).toBe(2);
  expect(two.info.threadsNote).toBeUndefined();
  // ORT started its pthread as a module worker from the blob: URL of its glue (CSP worker-src 'self' blob:).
  expect(workers.filter((u) => u.startsWith('blob:')).length).toBeGreaterThanOrEqual(1);
  expect(two.steps.map((s) => s.tokenId)).toEqual(one.steps.map((s) => s.tokenId));
  const again = await runHarness(page, { ...common, slot: 'rule', reuse: true });
  expect(again.info.handle).toBe(one.info.handle);
  expect(again.error).toBeUndefined();
  expect(again.steps.map((s) => s.tokenId)).toEqual(one.steps.map((s) => s.tokenId));
});

test('served without COOP/COEP (a static host): not isolated, one thread, and the model says why when more was asked', async ({
  page,
}) => {
  await page.route('**/e2e-harness.html', async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response, headers });
  });
  await openHarness(page);
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(false);
  const r = await runHarness(page, { ...common, threads: 2 });
  expect(r.error).toBeUndefined();
  expect(r.steps.length).toBeGreaterThan(0);
  expect(r.info.threads).toBe(1);
  expect(r.info.threadsNote).toMatch(/not cross-origin isolated/);
});
