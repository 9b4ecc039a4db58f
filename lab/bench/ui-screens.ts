/**
 * @file Pixel check for UI speed work: screenshots of the compare view with the bench:ui session, viewport by viewport
 * down the whole page, at 1400×900 and 390×844, before and after a keyboard box edit (select the box, Shift+→ twice,
 * Shift+↓), and a comparison of two such sets (largest channel difference and differing pixels per screenshot).
 * Sections drawn only near the viewport are drawn as each screenshot scrolls to them, as for a reader.
 * Usage (the session comes from a `npm run bench:ui` run):
 *   npx vite preview --port 4393 &   # in each build's tree
 *   npx tsx lab/bench/ui-screens.ts shoot http://127.0.0.1:4393 /tmp/shots/new
 *   npx tsx lab/bench/ui-screens.ts diff /tmp/shots/old /tmp/shots/new
 * Two runs of the same build differ by ±1–2 of a channel in a few form-control pixels (text antialiasing).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Page } from '@playwright/test';
import { Command } from 'commander';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.ts';

const SESSION = 'test-results/ui-bench/session-28x12x32.json';
const VIEWPORTS = [
  [1400, 900],
  [390, 844],
] as const;

/** Two frames and a moment: what the last scroll or key brought in view is drawn. */
const settle = (page: Page) =>
  page.evaluate(
    () => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 250)))),
  );

/** Screenshots from the top of the page to its end, one viewport (less 100 px of overlap) apart. */
async function sweep(page: Page, out: string, tag: string) {
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  const vh = page.viewportSize()!.height;
  for (let i = 0, y = 0; ; i++, y += vh - 100) {
    await page.evaluate((y) => window.scrollTo(0, y), y);
    await settle(page);
    await page.screenshot({ path: `${out}/${tag}-${String(i).padStart(2, '0')}.png` });
    if (y + vh >= height) break;
  }
  await page.evaluate(() => window.scrollTo(0, 0));
  await settle(page);
}

async function shoot(url: string, out: string) {
  if (!fs.existsSync(SESSION)) throw new Error(`${SESSION} is missing: run \`npm run bench:ui\` first`);
  fs.mkdirSync(out, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  for (const [width, height] of VIEWPORTS) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${url}/?backend=wasm`);
    await page.getByTestId('import-json').setInputFiles(SESSION);
    await page.getByTestId('token-base-31').waitFor({ timeout: 300_000 });
    await page.getByTestId('head-matrix-diff').locator('canvas').waitFor({ state: 'attached', timeout: 120_000 });
    await page.mouse.move(1, 1);
    await settle(page);
    await sweep(page, out, `${width}-before`);
    const press = (key: string, shiftKey = false) =>
      page.evaluate(
        ({ key, shiftKey }) =>
          document
            .querySelector('[data-testid=region-layer]')!
            .dispatchEvent(new KeyboardEvent('keydown', { key, shiftKey, bubbles: true })),
        { key, shiftKey },
      );
    await press(']');
    for (const key of ['ArrowRight', 'ArrowRight', 'ArrowDown']) await press(key, true);
    await settle(page);
    await sweep(page, out, `${width}-after`);
    await page.close();
  }
  await browser.close();
}

async function diff(a: string, b: string) {
  const sharp = createRequire(import.meta.url)('sharp');
  const read = (f: string): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }> =>
    sharp(f).raw().toBuffer({ resolveWithObject: true });
  for (const f of fs
    .readdirSync(a)
    .filter((f) => f.endsWith('.png'))
    .sort()) {
    if (!fs.existsSync(`${b}/${f}`)) {
      console.log(`${f.padEnd(22)} missing in ${b}`);
      continue;
    }
    const [x, y] = await Promise.all([read(`${a}/${f}`), read(`${b}/${f}`)]);
    if (x.info.width !== y.info.width || x.info.height !== y.info.height) {
      console.log(`${f.padEnd(22)} size differs`);
      continue;
    }
    let max = 0;
    let pixels = 0;
    for (let i = 0; i < x.data.length; i += x.info.channels) {
      let d = 0;
      for (let c = 0; c < x.info.channels; c++) d = Math.max(d, Math.abs(x.data[i + c] - y.data[i + c]));
      if (d) pixels++;
      max = Math.max(max, d);
    }
    console.log(`${f.padEnd(22)} max |Δ| ${max}, ${pixels} pixels differ`);
  }
}

const cli = new Command('npx tsx lab/bench/ui-screens.ts').description(
  'Screenshots of the compare view before and after a keyboard box edit, and their comparison.',
);
cli
  .command('shoot')
  .description('screenshot every viewport of the page at 1400×900 and 390×844')
  .argument('<url>', 'the app (a vite preview)')
  .argument('<dir>', 'folder for the PNGs')
  .action(shoot);
cli
  .command('diff')
  .description('largest channel difference and differing pixels per screenshot of two sets')
  .argument('<dirA>')
  .argument('<dirB>')
  .action(diff);
await cli.parseAsync();
