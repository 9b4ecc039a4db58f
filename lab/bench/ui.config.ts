/**
 * @file Playwright config of the UI benchmark (`npm run bench:ui`): the same Chromium, flags and `vite preview` of the
 * built dist/ as the e2e suites (playwright.config.ts), but only lab/bench/ui.bench.ts — not part of CI's Playwright run,
 * whose config collects e2e/*.spec.ts.
 */
import path from 'node:path';
import { defineConfig } from '@playwright/test';
import base from '../../playwright.config.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export default defineConfig({
  ...base,
  testDir: '.',
  testMatch: 'ui.bench.ts',
  timeout: 900_000,
  outputDir: path.join(ROOT, 'test-results/playwright-bench'),
  webServer: { ...(base.webServer as object), cwd: ROOT } as typeof base.webServer,
});
