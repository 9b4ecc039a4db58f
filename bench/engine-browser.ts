/**
 * @file Engine benchmark in headless Chromium (WASM, the worker engine via the harness page of the built app):
 * first token from a cold page load (fresh browser context, empty caches) and warm, decode tokens/s (engine time,
 * RunSummary.decodeMs) with and without capture in the same page (interleaved ABBA, median), the capture code's own share
 * of the time, and the peak RSS of Chromium's processes.
 */
import fs from 'node:fs';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/support/chromium.ts';
import type { HarnessOptions, HarnessRun } from '../src/engine/harness.ts';
import { captureShare, decodeTps } from './engine-node.ts';
import { type DecodeFigures, median } from './stats.ts';

/** Figures measured in Chromium. */
export interface BrowserBench extends DecodeFigures {
  backend: string;
}

/** RSS (MB) of all processes whose command line names the Chromium binary, children of this process tree. */
function chromiumRssMb(): number {
  let kb = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium') || !cmd.includes('--sayo-bench')) continue;
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // the process ended while we read it
    }
  }
  return kb / 1024;
}

function run(page: Page, o: HarnessOptions): Promise<HarnessRun> {
  return page.evaluate((opts) => window.sayoHarness.run(opts), o);
}

/** Runs the browser benchmark against a preview server at `baseUrl`. */
export async function benchBrowser(opts: { baseUrl: string; model: string; imageUrl: string; question: string; tokens: number; repeats: number }): Promise<BrowserBench> {
  // The marker argument lets chromiumRssMb find this browser's processes (renderer and GPU children inherit it).
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--sayo-bench'] });
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, chromiumRssMb())), 200);
  try {
    const page = await (await browser.newContext()).newPage();
    const base: HarnessOptions = { source: { kind: 'registry', id: opts.model }, backend: 'wasm', imageUrl: opts.imageUrl, question: opts.question, maxNewTokens: 1 };
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
    peak = Math.max(peak, chromiumRssMb());
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
