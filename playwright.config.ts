/**
 * @file Playwright: real Debian Chromium (WASM and WebGPU/SwiftShader) against `vite preview` of the built dist/
 * (`.ci/run` runs `npx vite build --mode e2e` first — the production build plus the engine harness page the specs
 * drive, which a plain `vite build` leaves out — then `npx playwright test --reporter=list,json`). One worker: 2 shared
 * cores.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH, PREVIEW_HOST, PREVIEW_PORT, PREVIEW_URL } from './lab/support/chromium.ts';

const DIST = path.join(import.meta.dirname, 'dist');
if (fs.existsSync(path.join(DIST, 'index.html')) && !fs.existsSync(path.join(DIST, 'e2e-harness.html'))) {
  throw new Error(
    'dist/ is a production build without the e2e harness page: build it with `npx vite build --mode e2e`',
  );
}

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 240_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  outputDir: 'test-results/playwright',
  use: {
    baseURL: PREVIEW_URL,
    browserName: 'chromium',
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    trace: 'off',
  },
  webServer: {
    command: `npx vite preview --host ${PREVIEW_HOST} --port ${PREVIEW_PORT} --strictPort`,
    url: `${PREVIEW_URL}/e2e-harness.html`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
