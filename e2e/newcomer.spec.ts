/**
 * @file What a newcomer met on a first visit, in real Chromium against the built app (and one dev-server visit): a
 * token picked before a run never blocks saving and a reload mid-run keeps the partial answers; panels without a
 * token (Stop before it) keep the image and the region layer; a link's out-of-range layer and token are clamped and
 * said; the per-head maps appear next to the checkbox that asks for them; a sample's question leaves with its image;
 * the r_v marks are large enough to see; no label is cut with "…" at 1440 px; the dev server does not reload the page
 * on a first visit. Screenshots of each go to test-results/newcomer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import sharp from 'sharp';
import { pick, ready, runDone, SAMPLES, SIDES } from './support/app.ts';
import { PREVIEW_HOST } from '../lab/support/chromium.ts';

const DIR = 'test-results/newcomer';
const S0 = SAMPLES[0];

const tokenCount = (page: Page, side: string) => page.locator(`[data-testid^=token-${side}-]`).count();

/** A photo-like PNG (smooth gradients and seeded noise, not a picture of shapes), written once. */
async function photo(): Promise<string> {
  const file = path.join(DIR, 'photo.png');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(DIR, { recursive: true });
  const [W, H] = [720, 477];
  const buf = Buffer.alloc(W * H * 3);
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      buf[i] = Math.min(255, (x / W) * 200 + rnd() * 55);
      buf[i + 1] = Math.min(255, (y / H) * 180 + rnd() * 75);
      buf[i + 2] = Math.min(255, 120 + 60 * Math.sin(x / 37) * Math.cos(y / 23) + rnd() * 40);
    }
  }
  await sharp(buf, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toFile(file);
  return file;
}

test.describe('1440×900', () => {
  test.use({ viewport: { width: 1440, height: 900 } });

  test('a token picked before a shorter run never blocks saving; a reload mid-run keeps the partial answers and the image', async ({
    page,
  }) => {
    test.setTimeout(420_000);
    // WebGPU on SwiftShader streams slowly enough to reload mid-answer.
    await page.goto('/?backend=webgpu');
    await ready(page);
    await pick(page);
    await runDone(page);
    // Pick the last token of the longer answer: every answer of the next run is shorter than that while it streams.
    const counts = await Promise.all(SIDES.map((s) => tokenCount(page, s)));
    const long = counts[0] >= counts[1] ? 'base' : 'trained';
    const last = Math.max(...counts) - 1;
    await page.getByTestId(`token-${long}-${last}`).click();
    await expect(page.getByTestId(`picked-${long}`)).toHaveAttribute('data-index', String(last));

    await page.getByTestId('run-button').click();
    await expect(page.getByTestId('token-base-0')).toBeVisible({ timeout: 120_000 });
    await page.waitForTimeout(1_000);
    const streamed = await Promise.all(SIDES.map((s) => tokenCount(page, s)));
    await expect(page.getByTestId('status-base')).toHaveText('running');
    expect(Math.max(...streamed)).toBeLessThan(last + 1);
    await expect(page.getByTestId('error').filter({ hasText: /could not be kept/ })).toHaveCount(0);
    await page.screenshot({ path: `${DIR}/desktop-streaming-after-pick.png` });
    await page.reload();
    await expect(page.getByTestId('image-info')).toContainText(S0.image);
    const statuses = await Promise.all(SIDES.map((s) => page.getByTestId(`status-${s}`).textContent()));
    expect(statuses.some((s) => s!.startsWith('interrupted'))).toBe(true);
    // The partial answers came back (at least the tokens on screen a save before the reload).
    await expect(page.getByTestId('token-base-0')).toBeVisible();
    await expect(page.getByTestId('error').filter({ hasText: /could not be kept/ })).toHaveCount(0);
    await page.getByTestId('panel-base').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${DIR}/desktop-reloaded-mid-run.png` });
  });

  test('no label cut with "…": the backend menu and the reason lines', async ({ page }) => {
    await page.goto('/');
    await ready(page);
    // Labels at 1440 px: the backend menu shows its whole choice, the reason lines are not cut.
    const cut = await page.evaluate(() => {
      const out: string[] = [];
      const ctx = document.createElement('canvas').getContext('2d')!;
      for (const sel of document.querySelectorAll<HTMLSelectElement>('.model-pair select')) {
        const cs = getComputedStyle(sel);
        ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
        const need = ctx.measureText(sel.selectedOptions[0]?.textContent ?? '').width;
        // Chromium's menu arrow and padding take ~24 px.
        if (need + 24 > sel.clientWidth)
          out.push(`select ${sel.id}: needs ${Math.ceil(need + 24)} px, has ${sel.clientWidth}`);
      }
      for (const el of document.querySelectorAll<HTMLElement>('[data-testid^=backend-reason-], .model-status span')) {
        if (el.scrollWidth > el.clientWidth + 1) out.push(`${el.dataset.testid ?? el.className}: ${el.textContent}`);
      }
      return out;
    });
    expect(cut).toEqual([]);
    await page.screenshot({ path: `${DIR}/desktop-header.png`, clip: { x: 0, y: 0, width: 1440, height: 260 } });
  });

  test('answered: per-head maps next to their checkbox, r_v marks large enough to see', async ({ page }) => {
    test.setTimeout(300_000);
    await page.goto('/');
    await ready(page);
    await pick(page);
    await runDone(page);
    const dot = await page.evaluate(() => {
      const tok = document.querySelector('.tok.counts')!;
      return Number.parseFloat(getComputedStyle(tok, '::after').fontSize);
    });
    expect(dot).toBeGreaterThanOrEqual(12);

    const box = page.getByRole('checkbox', { name: /per-head maps/ });
    await box.check();
    const maps = page.getByRole('region', { name: 'Per-head maps' });
    await expect(maps).toBeVisible();
    const [b, m] = [(await box.boundingBox())!, (await maps.boundingBox())!];
    expect(m.y - (b.y + b.height)).toBeLessThan(300);
    expect(m.y).toBeGreaterThan(b.y);
    await page.screenshot({ path: `${DIR}/desktop-per-head-maps.png` });
    await box.uncheck();
    await page.getByTestId('panel-base').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${DIR}/desktop-answered-strips.png` });

    // A link asking for a layer and a token the kept answers do not have: clamped, and said.
    await page.waitForTimeout(1_000);
    await page.goto('/?layer=42&token=999');
    await expect(page.getByTestId('status-base')).toHaveText(/^done/);
    const note = page.getByTestId('error').filter({ hasText: /link's view was adjusted/ });
    await expect(note).toContainText('layer=42');
    await expect(note).toContainText('token=999');
    await expect(page.getByTestId('picked-token')).not.toContainText('999');
    await page.screenshot({ path: `${DIR}/desktop-url-clamped.png`, clip: { x: 0, y: 180, width: 1440, height: 420 } });
  });
});

test.describe('390×844', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test("a sample's question leaves with its image, the notice comes", async ({ page }) => {
    test.setTimeout(240_000);
    await page.goto('/');
    await ready(page);
    await pick(page);
    await page.getByTestId('image-input').setInputFiles(await photo());
    await expect(page.getByTestId('image-info')).toContainText('photo.png');
    await expect(page.getByTestId('question-input')).toHaveValue('');
    await expect(page.getByTestId('pair-notice')).toBeVisible();
    await page.evaluate(() => document.querySelector('[data-testid=image-info]')!.scrollIntoView());
    await page.screenshot({ path: `${DIR}/phone-photo-question-cleared.png` });
    // A question typed by the user stays with the next image.
    await page.getByTestId('question-input').fill('What is on the board?');
    await page.getByTestId('image-input').setInputFiles(await photo());
    await expect(page.getByTestId('question-input')).toHaveValue('What is on the board?');
  });
});

for (const [name, viewport] of [
  ['desktop', { width: 1440, height: 900 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test.describe(`${viewport.width}×${viewport.height}`, () => {
    test.use({ viewport });
    test(`${name}: Stop before the first token keeps the image and the region layer on screen`, async ({ page }) => {
      test.setTimeout(300_000);
      await page.goto('/?backend=webgpu');
      await ready(page);
      await pick(page);
      await page.getByTestId('run-button').click();
      await page.getByTestId('stop-button').click();
      for (const side of SIDES)
        await expect(page.getByTestId(`status-${side}`)).toHaveText(/stopped|done/, { timeout: 30_000 });
      if ((await tokenCount(page, 'base')) + (await tokenCount(page, 'trained')) > 0)
        test.skip(true, 'a token arrived before Stop took effect');
      await expect(page.getByTestId('preview')).toBeVisible();
      await expect(page.getByTestId('region-layer')).toBeVisible();
      const bb = (await page.getByTestId('preview').boundingBox())!;
      expect(bb.width).toBeGreaterThan(100);
      await page.getByTestId('preview').scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${DIR}/${name}-stopped-before-first-token.png` });
    });
  });
}

test.describe('dev server', () => {
  const PORT = 4182;
  let server: ChildProcess | undefined;
  let log = '';
  test.afterEach(() => {
    // The server runs in its own process group (npx and vite under it): end that group.
    if (server?.pid) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });

  test('a first visit is not reloaded for "optimized dependencies changed"', async ({ page }) => {
    test.setTimeout(300_000);
    // The app's own config with an empty dependency cache of its own: a fresh clone's first `npm start` (and the
    // shared node_modules/.vite is left alone).
    const cache = path.resolve(DIR, 'vite-cache');
    fs.rmSync(cache, { recursive: true, force: true });
    fs.mkdirSync(DIR, { recursive: true });
    const config = path.resolve(DIR, 'vite.dev.config.ts');
    // vite.config.ts exports a function of the mode (the e2e build adds the harness page): call it as Vite would.
    fs.writeFileSync(
      config,
      `import app from '${path.resolve('vite.config.ts')}';\n` +
        `export default (env) => ({ ...(typeof app === 'function' ? app(env) : app), cacheDir: ${JSON.stringify(cache)} });\n`,
    );
    server = spawn(
      'npx',
      ['vite', '--config', config, '--host', PREVIEW_HOST, '--port', String(PORT), '--strictPort'],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    await expect.poll(() => log, { timeout: 60_000 }).toContain(String(PORT));
    let loads = 0;
    page.on('load', () => loads++);
    await page.goto(`http://${PREVIEW_HOST}:${PORT}/`);
    await ready(page);
    await page.waitForTimeout(2_000);
    expect(log).not.toMatch(/optimized dependencies changed/);
    expect(loads).toBe(1);
  });
});
