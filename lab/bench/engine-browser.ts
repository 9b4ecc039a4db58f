/**
 * @file Engine benchmark in headless Chromium (WASM, the worker engine via the harness page of the built app):
 * first token from a cold page load (fresh browser context, empty caches) and warm, decode tokens/s (engine time,
 * RunSummary.decodeMs) with and without capture in the same page (interleaved ABBA, median), the capture code's own share
 * of the time, and the peak RSS of Chromium's whole process tree (browser, renderers, GPU and utility processes).
 */
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.ts';
import type { HarnessOptions, HarnessRun } from '../support/harness-page.ts';
import { captureShare, decodeTps } from './engine-node.ts';
import { chromiumTreeRssMb } from './scale-browser.ts';
import { type DecodeFigures, median } from '../support/stats.ts';

/** Figures measured in Chromium. */
export interface BrowserBench extends DecodeFigures {
  backend: string;
}

function run(page: Page, o: HarnessOptions): Promise<HarnessRun> {
  return page.evaluate((opts) => window.sayoHarness.run(opts), o);
}

/** Runs the browser benchmark against a preview server at `baseUrl`. */
export async function benchBrowser(opts: {
  baseUrl: string;
  model: string;
  imageUrl: string;
  question: string;
  tokens: number;
  repeats: number;
}): Promise<BrowserBench> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, chromiumTreeRssMb())), 200);
  try {
    const page = await (await browser.newContext()).newPage();
    const base: HarnessOptions = {
      source: { kind: 'registry', id: opts.model },
      backend: 'wasm',
      imageUrl: opts.imageUrl,
      question: opts.question,
      maxNewTokens: 1,
    };
    await page.goto(`${opts.baseUrl}/e2e-harness.html`);
    await page.waitForFunction(() => 'sayoHarness' in window);
    const cold = await run(page, base);
    const firstTokenColdMs = cold.firstStepSincePageStart ?? NaN;
    const warm = [await run(page, { ...base, reuse: true }), await run(page, { ...base, reuse: true })];
    const long = { ...base, reuse: true, maxNewTokens: opts.tokens, minNewTokens: opts.tokens };
    const withCapture: number[] = [];
    const without: number[] = [];
    const shares: number[] = [];
    for (let i = 0; i < opts.repeats; i++) {
      for (const capture of i % 2 ? [false, true] : [true, false]) {
        const r = await run(page, capture ? long : { ...long, captureLayers: [] });
        (capture ? withCapture : without).push(decodeTps(r.summary!));
        if (capture) shares.push(captureShare(r.summary!));
      }
    }
    peak = Math.max(peak, chromiumTreeRssMb());
    return {
      backend: cold.info.backend,
      firstTokenColdMs,
      firstTokenWarmMs: median(warm.map((r) => r.firstStepMs ?? NaN)),
      decodeTpsCapture: median(withCapture),
      decodeTpsNoCapture: median(without),
      captureShare: median(shares),
      peakRssMb: peak,
    };
  } finally {
    clearInterval(timer);
    await browser.close();
  }
}
