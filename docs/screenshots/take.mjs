// Takes the README screenshots of the main states at 1440×900 and 390×844 (and docs/screenshot.png, the hero image)
// from a running build:
//   npx vite build && npx vite preview --port 4179 &  node docs/screenshots/take.mjs http://127.0.0.1:4179
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:4179';
const out = new URL('.', import.meta.url).pathname;
const browser = await chromium.launch({
  executablePath: process.env.SAYO_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--enable-unsafe-webgpu'],
});

async function session(viewport, name, steps) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  await steps(page, (file, full = false) => page.screenshot({ path: `${out}${name}-${file}.png`, fullPage: full }));
  await ctx.close();
}

const ready = async (page) => {
  for (const side of ['base', 'trained'])
    await page
      .getByTestId(`model-status-${side}`)
      .and(page.locator('[data-state=ready]'))
      .waitFor({ timeout: 120_000 });
};
const answer = async (page) => {
  await page.getByTestId('sample-sample-01').click();
  await page.getByTestId('image-info').waitFor();
  await page.getByTestId('run-button').click();
  for (const side of ['base', 'trained'])
    await page.getByTestId(`status-${side}`).filter({ hasText: /^done/ }).waitFor({ timeout: 120_000 });
  await page.getByTestId('token-trained-1').click();
  await page.mouse.move(1, 1);
};

await session({ width: 1440, height: 900 }, 'desktop', async (page, shot) => {
  await page.goto(`${base}/?backend=wasm`);
  await page
    .getByTestId('model-status-base')
    .and(page.locator('[data-state=loading]'))
    .waitFor({ timeout: 60_000 })
    .catch(() => {});
  await shot('loading');
  await ready(page);
  await shot('empty');
  await answer(page);
  await shot('answered-top');
  // The README's hero image (docs/screenshot.png): the page from its top down to the sparklines under the heatmaps.
  await page.evaluate(() => window.scrollTo(0, 0));
  const bottom = await page
    .getByTestId('spark-trained')
    .evaluate((el) => el.getBoundingClientRect().bottom + window.scrollY + 40);
  await page.screenshot({
    path: new URL('../screenshot.png', import.meta.url).pathname,
    fullPage: true,
    clip: { x: 0, y: 0, width: 1440, height: Math.round(bottom) },
  });
  await page.getByTestId('region-layer').scrollIntoViewIfNeeded();
  await shot('answered-heatmaps');
  await page.getByTestId('explainer-toggle').click();
  await page.getByTestId('explainer').scrollIntoViewIfNeeded();
  await shot('explainer');
  await page.getByTestId('head-matrix-legend').scrollIntoViewIfNeeded();
  await shot('matrices');
});

await session({ width: 390, height: 844 }, 'phone', async (page, shot) => {
  await page.goto(`${base}/?backend=wasm`);
  await ready(page);
  await shot('empty');
  await answer(page);
  await page.getByTestId('panel-base').scrollIntoViewIfNeeded();
  await shot('answered');
  await page.getByTestId('region-layer').scrollIntoViewIfNeeded();
  await shot('heatmap');
});
await browser.close();
