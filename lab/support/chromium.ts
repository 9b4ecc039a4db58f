/**
 * @file How every Playwright suite and the browser benchmark launch Debian's Chromium: no sandbox (containers), no
 * background traffic, and `--enable-unsafe-webgpu`, the one flag that gives the SwiftShader WebGPU adapter here.
 */

/** The system Chromium (Debian package). */
export const CHROMIUM_PATH = process.env.SAYO_CHROMIUM ?? '/usr/bin/chromium';

/** Launch arguments for every browser test. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
];

/** Host and port of the `vite preview` server the suites run against. */
export const PREVIEW_HOST = '127.0.0.1';
export const PREVIEW_PORT = Number(process.env.SAYO_PREVIEW_PORT ?? 4173);
export const PREVIEW_URL = `http://${PREVIEW_HOST}:${PREVIEW_PORT}`;
