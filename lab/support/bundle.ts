/**
 * @file Test harness for vitest: runs browser-only code (canvas, IndexedDB, PNG encoding) in real Chromium from a Node test.
 * The given entry source is bundled with esbuild, served from 127.0.0.1 (IndexedDB needs a real origin) and
 * loaded in headless /usr/bin/chromium through playwright-core. The entry puts its API on `window.lens`.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';

export { CHROMIUM_PATH };

/** A page with the bundle loaded, and how to close everything. */
export interface ChromiumHarness {
  page: Page;
  url: string;
  close(): Promise<void>;
}

/**
 * Bundles `source` (TypeScript, imports resolved from `resolveDir`), serves it and opens it in Chromium.
 * Page errors and console errors are rethrown into the test through `errors`.
 */
export async function openInChromium(
  source: string,
  resolveDir: string,
): Promise<ChromiumHarness & { errors: string[] }> {
  const bundle = await build({
    stdin: { contents: source, resolveDir, loader: 'ts', sourcefile: 'entry.ts' },
    bundle: true,
    format: 'iife',
    write: false,
    target: 'es2022',
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0].text;
  const html =
    '<!doctype html><meta charset="utf-8"><title>lens test</title><body><script src="/bundle.js"></script></body>';
  const server: Server = createServer((req, res) => {
    if (req.url === '/bundle.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(url);
    await page.waitForFunction(() => 'lens' in window);
    const b = browser;
    return {
      page,
      url,
      errors,
      async close() {
        await b.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
    throw e;
  }
}

/**
 * {@link openInChromium} for the enclosing describe block: opened in beforeAll, closed in afterAll, where no page or
 * console error may remain. `call(fn, ...args)` runs `window.lens[fn](...args)` in the page and returns its result.
 */
export function useChromiumPage(source: string, resolveDir: string) {
  let h: (ChromiumHarness & { errors: string[] }) | undefined;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM_PATH))
      throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install the chromium package (bash .ci/run does)`);
    h = await openInChromium(source, resolveDir);
  });
  afterAll(async () => {
    expect(h?.errors ?? []).toEqual([]);
    await h?.close();
  });
  const page = (): Page => {
    if (!h) throw new Error('the Chromium page is not open (beforeAll failed)');
    return h.page;
  };
  return {
    get page() {
      return page();
    },
    call: <T>(fn: string, ...args: unknown[]) =>
      page().evaluate(([f, a]) => (window as any).lens[f as string](...(a as unknown[])), [
        fn,
        args,
      ] as const) as Promise<T>,
  };
}
