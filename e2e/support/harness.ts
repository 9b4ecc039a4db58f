/**
 * @file Playwright helpers around the engine harness page (e2e-harness.html → window.sayoHarness): open it, run the
 * worker engine, and watch the page's network so a CDN request or a SPA-fallback page fails the test.
 */
import { expect, type Page } from '@playwright/test';
import type { HarnessOptions, HarnessRun, PlainStep } from '../../lab/support/harness-page.ts';

export type { HarnessOptions, HarnessRun, PlainStep };

/** Result of a harness run. */
export type HarnessResult = HarnessRun;

/** Opens the harness page and waits until the engine API is installed. */
export async function openHarness(page: Page): Promise<void> {
  await page.goto('/e2e-harness.html');
  await expect(page.locator('#status')).toHaveText('ready');
}

/** Runs load + generate (+ score) in the page's worker engine. */
export function runHarness(page: Page, options: HarnessOptions): Promise<HarnessResult> {
  return page.evaluate((o) => window.sayoHarness.run(o), options) as Promise<HarnessResult>;
}

/** The page's WebGPU adapter as the page sees it. */
export function pageAdapter(page: Page) {
  return page.evaluate(() => window.sayoHarness.adapter());
}

/** Records every request the page (and its workers) makes; `foreign()` lists those not to the preview server. */
export function watchRequests(page: Page, origin: string) {
  const urls: string[] = [];
  page.context().on('request', (r) => urls.push(r.url()));
  return {
    urls,
    foreign: () => urls.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')),
  };
}
