/**
 * @file Faults in real Chromium (WASM): a corrupt model URL must not poison later loads in the same tab (the embedded
 * model and a good URL load after it); a model URL that stalls or drips bytes forever ends with a clear error; a
 * hostile session kept in IndexedDB is dropped with a notice instead of freezing the tab at every visit; the app
 * ships its Content-Security-Policy and X-Content-Type-Options.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect, test, type Page, type Route } from '@playwright/test';
import { openHarness } from './support/harness.ts';

const MINI = path.resolve('models/sayo-mini');
const FILES = [
  'config.json',
  'generation_config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/vision_encoder.onnx',
  'onnx/embed_tokens.onnx',
  'onnx/decoder_model_merged.onnx',
];

/** Serves SAYO-mini under /fault/<name>/ with `damage` applied to its files (same origin as the app). */
async function serveModel(
  page: Page,
  name: string,
  damage: (file: string, bytes: Buffer) => Buffer | 'stall' = (_f, b) => b,
) {
  await page.context().route(new RegExp(`/fault/${name}/`), async (route: Route) => {
    const file = new URL(route.request().url()).pathname.split(`/fault/${name}/`)[1];
    if (!FILES.includes(file)) return route.fulfill({ status: 404, body: 'not found' });
    const out = damage(file, fs.readFileSync(path.join(MINI, file)));
    if (out === 'stall') return; // never answered
    return route.fulfill({
      status: 200,
      body: out,
      contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    });
  });
}

/** Loads a source in the page's (shared) worker engine: its info, or its error. */
function load(
  page: Page,
  source: object,
  backend = 'wasm',
  options: { downloadTimeoutMs?: number; stopAfterMs?: number } = {},
) {
  return page.evaluate(
    async ([src, b, o]) => {
      const h = (window as any).sayoHarness;
      try {
        const info = await h.load(src, b, o);
        return { ok: true as const, backend: info.backend as string };
      } catch (e) {
        return { ok: false as const, code: (e as any).code as string, message: (e as Error).message };
      }
    },
    [source, backend, options] as const,
  );
}

test('a corrupt model URL does not poison later loads in the same tab', async ({ page }) => {
  // Every ONNX graph byte-flipped in its first kilobyte: onnxruntime cannot parse it.
  await serveModel(page, 'corrupt', (file, b) =>
    file.endsWith('.onnx') ? Buffer.concat([Buffer.alloc(1024, 0xff), b.subarray(1024)]) : b,
  );
  await serveModel(page, 'good');
  await openHarness(page);
  const bad = await load(page, { kind: 'url', url: '/fault/corrupt/' });
  expect(bad).toMatchObject({ ok: false, code: 'corrupt_model' });
  const embedded = await load(page, { kind: 'registry', id: 'sayo-mini-base' });
  expect(embedded).toEqual({ ok: true, backend: 'wasm' });
  const good = await load(page, { kind: 'url', url: '/fault/good/' });
  expect(good).toEqual({ ok: true, backend: 'wasm' });
  // The loaded model still answers after the failure.
  const answered = await page.evaluate(
    async () => (await (window as any).sayoHarness.answer('What shape is it?', 2)).tokens,
  );
  expect(answered).toBeGreaterThan(0);
});

/** A loopback server (CORS open) whose paths stall, drip then stall, drip forever, or declare a huge body. */
async function faultServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const server = http.createServer((req, res) => {
    const kind = (req.url ?? '').split('/')[1];
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Content-Length' };
    if (kind === 'stall') return; // headers never come
    if (kind === 'drip-stall') {
      res.writeHead(200, { ...cors, 'Content-Type': 'application/json' });
      res.write('{"model_type": ');
      return; // then nothing
    }
    if (kind === 'drip-forever') {
      res.writeHead(200, { ...cors, 'Content-Type': 'application/json' });
      const t = setInterval(() => res.write(' '), 100);
      timers.add(t);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (kind === 'huge') {
      res.writeHead(200, { ...cors, 'Content-Type': 'application/json', 'Content-Length': String(200 * 1024 * 1024) });
      res.write('{');
      return;
    }
    res.writeHead(404, cors).end();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test('model URLs: every wait ends (timeouts, size cap, Stop); other schemes are refused; the engine stays usable', async ({
  page,
}) => {
  const server = await faultServer();
  try {
    await openHarness(page);
    const quick = { downloadTimeoutMs: 1500 };
    const t0 = Date.now();
    const stall = await load(page, { kind: 'url', url: `${server.url}/stall/` }, 'wasm', quick);
    expect(stall).toMatchObject({ ok: false, code: 'download_failed' });
    expect(stall.ok === false && stall.message).toMatch(/no response within 1\.5 s \(connect timeout\)/);
    const drip = await load(page, { kind: 'url', url: `${server.url}/drip-stall/` }, 'wasm', quick);
    expect(drip).toMatchObject({ ok: false, code: 'download_failed' });
    expect(drip.ok === false && drip.message).toMatch(/no data for 1\.5 s .*\(idle timeout\)/);
    const huge = await load(page, { kind: 'url', url: `${server.url}/huge/` }, 'wasm', quick);
    expect(huge.ok === false && huge.message).toMatch(/209\.7 MB declared, more than 67\.1 MB \(size limit\)/);
    expect(Date.now() - t0).toBeLessThan(30_000);
    // Bytes keep coming, so no timeout fires: Stop ends it.
    const endless = await load(page, { kind: 'url', url: `${server.url}/drip-forever/` }, 'wasm', {
      ...quick,
      stopAfterMs: 1500,
    });
    expect(endless).toMatchObject({ ok: false, code: 'cancelled' });
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'ftp://127.0.0.1/model/']) {
      const r = await load(page, { kind: 'url', url }, 'wasm');
      expect(r).toMatchObject({ ok: false, code: 'bad_input' });
      expect(r.ok === false && r.message).toMatch(/scheme is not accepted \(accepted: http:\/\/ or https:\/\/\)/);
    }
    expect(await load(page, { kind: 'registry', id: 'sayo-mini' })).toEqual({ ok: true, backend: 'wasm' });
  } finally {
    await server.close();
  }
});

test('the built app ships its Content-Security-Policy (meta and header), nosniff and frame-ancestors, and runs under it', async ({
  page,
}) => {
  const res = await page.request.get('/');
  const csp = res.headers()['content-security-policy'];
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("object-src 'none'");
  expect(res.headers()['x-content-type-options']).toBe('nosniff');
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  await page.goto('/?backend=wasm');
  const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(meta).toContain("script-src 'self' 'wasm-unsafe-eval' blob:");
  for (const side of ['base', 'trained']) {
    await expect(page.getByTestId(`model-status-${side}`)).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  }
  // Inline script is refused by the policy.
  const inline = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true';
    document.body.append(s);
    return (window as { __inlineRan?: boolean }).__inlineRan === true;
  });
  expect(inline).toBe(false);
  expect(violations.filter((v) => !v.includes('__inlineRan') && !/inline/.test(v))).toEqual([]);
});

/** A session file that used to freeze the tab: 100 000 heads with empty attention (7 KB). */
function hostileSession(): string {
  const session = JSON.parse(fs.readFileSync(path.resolve('test-results/faults-e2e-session.json'), 'utf8'));
  for (const p of session.panels)
    for (const s of p.steps) Object.assign(s, { heads: 100_000, attention: '', imageShare: '', rowSum: '' });
  return JSON.stringify(session);
}

test('a hostile session: import is refused at once, and a stored copy is dropped with a notice instead of freezing every visit', async ({
  page,
}) => {
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('model-status-trained')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  // A real session of this app: a sample, both answers, exported.
  await page.getByTestId('sample-' + JSON.parse(fs.readFileSync('public/samples/samples.json', 'utf8'))[0].id).click();
  await page.getByTestId('run-button').click();
  for (const side of ['base', 'trained'])
    await expect(page.getByTestId(`status-${side}`)).toHaveText(/^done/, { timeout: 120_000 });
  const download = page.waitForEvent('download');
  await page.getByTestId('export-json').click();
  fs.mkdirSync('test-results', { recursive: true });
  await (await download).saveAs('test-results/faults-e2e-session.json');
  const answer = await page.getByTestId('answer-trained').textContent();

  // Import: refused within a second, nothing on screen changes.
  const t0 = Date.now();
  await page
    .getByTestId('import-json')
    .setInputFiles({ name: 'hostile.json', mimeType: 'application/json', buffer: Buffer.from(hostileSession()) });
  await expect(page.getByTestId('error').filter({ hasText: '100000 is above the maximum 256' })).toHaveCount(1);
  expect(Date.now() - t0).toBeLessThan(5000);
  await expect(page.getByTestId('answer-trained')).toHaveText(answer!);

  // Stored: put it in IndexedDB behind the app's back, reload; the tab answers and says the copy was removed.
  // The app's own debounced save (SAVE_DELAY_MS after its last change) may still land after a first put and replace
  // it, so the put is repeated until the hostile copy is still there a second later.
  const hostile = hostileSession();
  await expect
    .poll(
      () =>
        page.evaluate(async (text) => {
          const db = await new Promise<IDBDatabase>((resolve, reject) => {
            const open = indexedDB.open('sayo-lens');
            open.onerror = () => reject(open.error);
            open.onsuccess = () => resolve(open.result);
          });
          const request = <T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest<T>) =>
            new Promise<T>((resolve, reject) => {
              const r = op(db.transaction('sessions', mode).objectStore('sessions'));
              r.onsuccess = () => resolve(r.result);
              r.onerror = () => reject(r.error);
            });
          await request('readwrite', (s) => s.put(text, 'current'));
          await new Promise((r) => setTimeout(r, 1000));
          const kept = (await request('readonly', (s) => s.get('current'))) === text;
          db.close();
          return kept;
        }, hostile),
      { timeout: 15_000 },
    )
    .toBe(true);
  const t1 = Date.now();
  await page.reload();
  await expect(page.getByTestId('error').filter({ hasText: 'removed from this browser' })).toHaveCount(1, {
    timeout: 15_000,
  });
  expect(Date.now() - t1).toBeLessThan(15_000);
  expect(await page.evaluate(() => 1 + 1)).toBe(2); // the page still runs script
  // The next visit starts clean.
  await page.reload();
  await expect(page.getByTestId('model-status-trained')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await expect(page.getByTestId('error').filter({ hasText: 'removed from this browser' })).toHaveCount(0);
});

// The stuck load's own 30 s connect timeout races the other side's answer: on a loaded 2-core machine the base failed
// by itself before Stop was clicked in 1 of 4 fresh-clone runs. One retry; a retried pass is reported as flaky.
test.describe('stuck load', () => {
  test.describe.configure({ retries: 1 });
  test('Stop ends a run whose model is stuck loading; the other side answers; the next load works', async ({
    page,
  }) => {
    // The URL checkpoint's server never answers (routed here: no internet is used).
    await page.context().route(/huggingface\.co\//, () => undefined);
    await page.goto('/?backend=wasm');
    for (const side of ['base', 'trained']) {
      await expect(page.getByTestId(`model-status-${side}`)).toHaveAttribute('data-state', 'ready', {
        timeout: 120_000,
      });
    }
    await page
      .getByTestId('sample-' + JSON.parse(fs.readFileSync('public/samples/samples.json', 'utf8'))[0].id)
      .click();
    await page.getByTestId('model-base').selectOption('qwen2-vl-2b-instruct');
    await page.getByTestId('run-button').click();
    await expect(page.getByTestId('status-trained')).toHaveText(/^done/, { timeout: 120_000 });
    await expect(page.getByTestId('status-base')).toHaveText(/running|loading/);
    const t0 = Date.now();
    await page.getByTestId('stop-button').click();
    await expect(page.getByTestId('status-base')).toHaveText('stopped', { timeout: 5000 });
    expect(Date.now() - t0).toBeLessThan(5000);
    await expect(page.getByTestId('run-button')).toBeEnabled();
    // Back to the embedded base: it loads and both sides answer.
    await page.getByTestId('model-base').selectOption('sayo-mini-base');
    await expect(page.getByTestId('model-status-base')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
    await page.getByTestId('run-button').click();
    for (const side of ['base', 'trained'])
      await expect(page.getByTestId(`status-${side}`)).toHaveText(/^done/, { timeout: 120_000 });
  });
});

test('a folder declaring 1e6 external-data chunks is refused at once, with a handful of requests', async ({ page }) => {
  let requests = 0;
  page.on('request', (r) => {
    if (r.url().includes('/fault/external/')) requests++;
  });
  await serveModel(page, 'external', (file, b) => {
    if (file !== 'config.json') return b;
    const c = JSON.parse(b.toString('utf8'));
    c['transformers.js_config'] = { dtype: 'fp32', use_external_data_format: 1_000_000 };
    return Buffer.from(JSON.stringify(c));
  });
  await openHarness(page);
  const t0 = Date.now();
  const bad = await load(page, { kind: 'url', url: '/fault/external/' });
  expect(bad).toMatchObject({ ok: false, code: 'bad_input' });
  expect(bad.ok === false && bad.message).toMatch(/use_external_data_format: 1000000 is not plausible/);
  expect(Date.now() - t0).toBeLessThan(30_000);
  expect(requests).toBeLessThan(20);
  // The engine stays usable.
  expect(await load(page, { kind: 'registry', id: 'sayo-mini-base' })).toEqual({ ok: true, backend: 'wasm' });
});

test('Stop on a worker hung in a backtracking tokenizer regex restarts it: the stopped run ends, the other model answers', async ({
  page,
}) => {
  // The folder's pre-tokenizer regex backtracks exponentially in the length of each text piece between special tokens,
  // so a question of some length keeps the worker's thread busy for ever: it never reads a cancel.
  await serveModel(page, 'regex', (file, b) => {
    if (file !== 'tokenizer.json') return b;
    const t = JSON.parse(b.toString('utf8'));
    t.pre_tokenizer.pretokenizers[0].pattern.Regex = '(((\\w|\\W)*)*)*\\x00';
    return Buffer.from(JSON.stringify(t));
  });
  await openHarness(page);
  const other = await page.evaluate(
    async () =>
      (await (window as any).sayoHarness.load({ kind: 'registry', id: 'sayo-mini-base' }, 'wasm')).handle as string,
  );
  expect(await load(page, { kind: 'url', url: '/fault/regex/' })).toEqual({ ok: true, backend: 'wasm' });
  const t0 = Date.now();
  const stopped = await page.evaluate(async () => {
    try {
      await (window as any).sayoHarness.answer('What colour is the shape in the top left corner of this picture?', 2, {
        stopAfterMs: 2000,
      });
      return { ok: true as const };
    } catch (e) {
      return { ok: false as const, code: (e as any).code as string, message: (e as Error).message };
    }
  });
  expect(stopped).toMatchObject({ ok: false, code: 'cancelled' });
  expect(stopped.ok === false && stopped.message).toMatch(/did not respond within 10 s, so it was restarted/);
  expect(Date.now() - t0).toBeLessThan(30_000);
  // The other model was reloaded under its handle in the fresh worker and answers.
  const tokens = await page.evaluate(
    async (h) => (await (window as any).sayoHarness.answer('What shape is it?', 2, { handle: h })).tokens as number,
    other,
  );
  expect(tokens).toBeGreaterThan(0);
});
