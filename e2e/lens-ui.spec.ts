/**
 * @file The lens as a person meets it, in real Chromium at 1440×900 and 390×844 / 360×740: backend switching both ways
 * (answers kept, both checkpoints reloaded, Run disabled meanwhile), "auto" choosing WASM over a software WebGPU
 * adapter and saying why, ORT's runtime served from Cache Storage on a warm visit, a failed load retried with one
 * click, loading rows without empty sizes and a bar that ends full, per-panel token picks on answers of different
 * lengths, answers as text, labelled figures with their explainer, axes and legends, the alignment switch, the region list, honest
 * notices, a large PNG export, the reward above a heatmap that uses its space, Stop with no token after it (time printed),
 * the waiting state, a reload mid-run that restores everything, and no horizontal scroll on a phone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import sharp from 'sharp';
import { pick, ready, runDone, SAMPLES, SIDES } from './support/app.ts';

const DIR = 'test-results/lens-ui';
const S0 = SAMPLES[0];

const boxesOf = async (page: Page) =>
  JSON.parse((await page.getByTestId('region-layer').getAttribute('data-boxes'))!) as number[][];

/** Drags on the base region layer from (x1, y1) to (x2, y2), in image pixels. */
async function drag(
  page: Page,
  image: { width: number; height: number },
  x1: number,
  y1: number,
  x2: number,
  y2: number,
) {
  await page.getByTestId('region-layer').scrollIntoViewIfNeeded();
  const bb = (await page.getByTestId('region-layer').boundingBox())!;
  const at = (x: number, y: number) =>
    [bb.x + (x / image.width) * bb.width, bb.y + (y / image.height) * bb.height] as const;
  await page.mouse.move(...at(x1, y1));
  await page.mouse.down();
  await page.mouse.move(...at((x1 + x2) / 2, (y1 + y2) / 2), { steps: 3 });
  await page.mouse.move(...at(x2, y2), { steps: 3 });
  await page.mouse.up();
}

/** Watches, from the first script on: loading rows, the bar when every file is ✓, the status box heights, Run while nothing is ready. */
async function watchLoading(page: Page) {
  await page.addInitScript(() => {
    const w = window as unknown as {
      __load: { lines: string[]; fullBars: number[]; heights: Record<string, number[]>; runEnabledUnready: number };
    };
    w.__load = { lines: [], fullBars: [], heights: { loading: [], ready: [] }, runEnabledUnready: 0 };
    const check = () => {
      const statuses = [...document.querySelectorAll('[data-testid^=model-status-]')] as HTMLElement[];
      for (const st of statuses) {
        const state = st.dataset.state!;
        if (state === 'loading' || state === 'ready')
          w.__load.heights[state].push(Math.round(st.getBoundingClientRect().height));
        const lis = [...st.querySelectorAll('.files li')].map((li) => li.textContent!);
        for (const l of lis) if (!w.__load.lines.includes(l)) w.__load.lines.push(l);
        const bar = st.querySelector('progress');
        if (bar && lis.length > 0 && lis.every((l) => l.endsWith('✓'))) w.__load.fullBars.push(bar.position);
      }
      const run = document.querySelector('[data-testid=run-button]') as HTMLButtonElement | null;
      if (run && statuses.length && statuses.every((s) => s.dataset.state !== 'ready') && !run.disabled)
        w.__load.runEnabledUnready++;
    };
    document.addEventListener('DOMContentLoaded', () =>
      new MutationObserver(check).observe(document.body, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
      }),
    );
  });
}

const loadWatch = (page: Page) =>
  page.evaluate(
    () =>
      (
        window as unknown as {
          __load: { lines: string[]; fullBars: number[]; heights: Record<string, number[]>; runEnabledUnready: number };
        }
      ).__load,
  );

test.describe('1440×900', () => {
  test.use({ viewport: { width: 1440, height: 900 } });

  test('backend: auto picks WASM over a software adapter, switching both ways reloads both and keeps the answers, the runtime comes from cache', async ({
    page,
    context,
  }) => {
    test.setTimeout(420_000);
    const wasmFetches: string[] = [];
    context.on('request', (r) => {
      if (/\/ort\/.*\.wasm$/.test(new URL(r.url()).pathname)) wasmFetches.push(r.url());
    });
    await watchLoading(page);
    await page.goto('/');
    await ready(page, 'wasm');
    // "auto" saw only SwiftShader: WASM, with the reason on screen.
    await expect(page.getByTestId('backend')).toHaveValue('auto');
    for (const side of SIDES)
      await expect(page.getByTestId(`backend-reason-${side}`)).toContainText('software fallback');
    await pick(page);
    await runDone(page);
    const answers = {
      base: await page.getByTestId('answer-base').textContent(),
      trained: await page.getByTestId('answer-trained').textContent(),
    };

    // WASM → WebGPU: both sides reload on WebGPU, answers stay, then a run works.
    await page.getByTestId('backend').selectOption('webgpu');
    await expect(page.getByTestId('model-status-base')).not.toHaveAttribute('data-backend', 'wasm');
    await ready(page, 'webgpu');
    await expect(page.getByTestId('answer-base')).toHaveText(answers.base!);
    await expect(page.getByTestId('answer-trained')).toHaveText(answers.trained!);
    await expect(page.getByTestId('error')).toHaveCount(0);
    await runDone(page);
    await expect(page.getByTestId('error')).toHaveCount(0);

    // WebGPU → WASM: the same the other way.
    await page.getByTestId('backend').selectOption('wasm');
    await ready(page, 'wasm');
    await expect(page.getByTestId('error')).toHaveCount(0);
    await runDone(page);
    await expect(page.getByTestId('error')).toHaveCount(0);
    expect(page.url()).toContain('backend=wasm');

    // Loading feedback over all three loads: sizes or "from cache", never "0.0 / 0.0 MB"; the bar ends full; the
    // status box keeps its height; Run was never enabled while no checkpoint was ready.
    const w = await loadWatch(page);
    expect(w.lines.some((l) => /decoder_model_merged.*MB/.test(l))).toBe(true);
    expect(w.lines.filter((l) => l.includes('0.0 / 0.0 MB'))).toEqual([]);
    expect(w.fullBars.length).toBeGreaterThan(0);
    expect(Math.min(...w.fullBars)).toBe(1);
    expect(new Set([...w.heights.loading, ...w.heights.ready]).size).toBe(1);
    expect(w.runEnabledUnready).toBe(0);

    // A warm reload keeps the menu and takes ORT's runtime from Cache Storage (no .wasm download).
    expect(wasmFetches.length).toBeGreaterThan(0);
    wasmFetches.length = 0;
    await page.reload();
    await expect(page.getByTestId('backend')).toHaveValue('wasm');
    await ready(page, 'wasm');
    expect(wasmFetches).toEqual([]);
  });

  test('a failed load is retried with one click', async ({ page }) => {
    let failures = 0;
    await page.route('**/models/sayo-mini-base/config.json', (route) => {
      if (failures++ === 0) return route.abort('failed');
      return route.continue();
    });
    await page.goto('/?backend=wasm');
    await expect(page.getByTestId('model-status-base')).toHaveAttribute('data-state', 'error', { timeout: 120_000 });
    await expect(page.getByTestId('model-status-trained')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
    await page.getByTestId('retry-base').click();
    await ready(page, 'wasm');
  });

  test('WebGPU run: waiting state, Stop with no token after it, reload mid-run restores image, question, regions', async ({
    page,
  }) => {
    test.setTimeout(360_000);
    await page.goto('/?backend=webgpu');
    await ready(page, 'webgpu');
    const sample = SAMPLES[1] ?? S0;
    await pick(page, sample);
    const { width, height } = (await sharp(path.join('public/samples', sample.image)).metadata()) as {
      width: number;
      height: number;
    };
    await drag(page, { width, height }, width * 0.1, height * 0.1, width * 0.45, height * 0.4);
    const boxes = await boxesOf(page);
    expect(boxes).toHaveLength(1);

    // Waiting for the first token: said so, no "no attention", no "layer -1".
    await page.getByTestId('run-button').click();
    await expect(page.getByTestId('waiting-base')).toBeVisible();
    const panelText = await page.getByTestId('panel-base').textContent();
    expect(panelText).not.toContain('no attention');
    expect(panelText).not.toContain('layer -1');

    // Stop after the first token: both panels end and no token appears afterwards. The time is printed, not asserted
    // (a shared CI machine can be slow); the 10 s bound only catches a Stop that hangs.
    await expect(page.getByTestId('token-base-0')).toBeVisible({ timeout: 120_000 });
    const t0 = Date.now();
    await page.getByTestId('stop-button').click();
    for (const side of SIDES)
      await expect(page.getByTestId(`status-${side}`)).toHaveText('stopped', { timeout: 10_000 });
    const stopMs = Date.now() - t0;
    console.log(`Stop → both panels stopped: ${stopMs} ms`);
    const counts = async () => Promise.all(SIDES.map((s) => page.locator(`[data-testid^=token-${s}-]`).count()));
    const atStop = await counts();
    await page.waitForTimeout(2_000);
    expect(await counts()).toEqual(atStop);

    // Run again; reload while it streams: image, question, regions and the partial answer are back, marked.
    await page.getByTestId('run-button').click();
    await expect(page.getByTestId('token-base-0')).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('status-base')).toHaveText('running');
    await page.waitForTimeout(900);
    await page.reload();
    await expect(page.getByTestId('image-info')).toContainText(sample.image);
    await expect(page.getByTestId('question-input')).toHaveValue(sample.question);
    expect(await boxesOf(page)).toEqual(boxes);
    await expect(page.getByTestId('status-base')).toHaveText(/interrupted|done/);
    const statuses = await Promise.all(SIDES.map((s) => page.getByTestId(`status-${s}`).textContent()));
    expect(statuses.some((s) => s!.startsWith('interrupted'))).toBe(true);
  });

  test('answered view: per-panel tokens, answer text, labelled figures, explainer, legends, regions, notices, export', async ({
    page,
  }) => {
    test.setTimeout(360_000);
    await page.goto('/?backend=wasm');
    await ready(page, 'wasm');
    // Answers of different lengths (read, not assumed: try the samples in turn).
    let lengths: number[] = [];
    let sample = S0;
    for (const s of SAMPLES) {
      sample = s;
      await pick(page, s);
      await runDone(page);
      lengths = await Promise.all(SIDES.map((side) => page.locator(`[data-testid^=token-${side}-]`).count()));
      if (lengths[0] !== lengths[1]) break;
    }
    expect(lengths[0]).not.toBe(lengths[1]);
    const [longer, shorter] = lengths[0] > lengths[1] ? (['base', 'trained'] as const) : (['trained', 'base'] as const);
    const nLong = Math.max(...lengths);
    const nShort = Math.min(...lengths);

    // Notices: a sample shows no downscale warning and no pair notice.
    await expect(page.getByTestId('pair-notice')).toHaveCount(0);
    expect(await page.locator('.panel .notice').allTextContents()).toEqual([]);

    // Token picks by panel: the last token of the longer answer; the shorter shows its own last token, says so, and
    // the comparison says the tokens differ.
    await page.getByTestId(`token-${longer}-${nLong - 1}`).click();
    await expect(page.getByTestId(`picked-${longer}`)).toHaveAttribute('data-index', String(nLong - 1));
    await expect(page.getByTestId(`picked-${shorter}`)).toHaveAttribute('data-index', String(nShort - 1));
    await expect(page.getByTestId(`picked-${shorter}`)).toContainText(`ends at #${nShort - 1}`);
    await expect(page.getByTestId(`token-${shorter}-${nShort - 1}`)).toHaveAttribute('aria-selected', 'true');
    const lastText = await page.getByTestId(`token-${longer}-${nLong - 1}`).textContent();
    await expect(page.getByTestId(`picked-${longer}`)).toContainText(`“${lastText}”`);
    await expect(page.getByTestId('diff-tokens')).toHaveAttribute('data-differ', 'true');
    // Arrow keys walk each answer to its own end (the pointer leaves the strip: hovering a token previews it).
    await page.mouse.move(2, 2);
    await page.getByRole('listbox', { name: new RegExp(`${shorter} answer tokens`) }).focus();
    await page.keyboard.press('Home');
    await expect(page.getByTestId(`picked-${shorter}`)).toHaveAttribute('data-index', '0');
    for (let i = 0; i < nShort + 2; i++) await page.keyboard.press('ArrowRight');
    await expect(page.getByTestId(`picked-${shorter}`)).toHaveAttribute('data-index', String(nShort - 1));
    await page.getByRole('listbox', { name: new RegExp(`${longer} answer tokens`) }).focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await expect(page.getByTestId(`picked-${longer}`)).toHaveAttribute(
      'data-index',
      String(Math.min(nLong - 1, nShort + 2)),
    );
    await page.keyboard.press('End');
    await expect(page.getByTestId(`picked-${longer}`)).toHaveAttribute('data-index', String(nLong - 1));

    // Answers as text: special tokens hidden, raw on demand.
    const raw = Object.fromEntries(
      await Promise.all(
        SIDES.map(
          async (s) => [s, (await page.locator(`[data-testid^=token-${s}-]`).allTextContents()).join('')] as const,
        ),
      ),
    );
    const special = SIDES.find((s) => /<\|[^|]*\|>/.test(raw[s]));
    expect(special, 'an answer with a special token (e.g. <|im_end|>)').toBeDefined();
    expect(await page.getByTestId(`answer-${special}`).textContent()).not.toMatch(/<\|[^|]*\|>/);
    await page.getByTestId(`raw-${special}`).click();
    await expect(page.getByTestId(`answer-${special}`)).toHaveText(raw[special!]);

    // Each checkpoint's status is at most two lines under its picker (the backend's reason read whole, not cut with
    // "…"), the same height loading or ready: no band in the header beyond that.
    for (const side of SIDES)
      expect((await page.getByTestId(`model-status-${side}`).boundingBox())!.height).toBeLessThanOrEqual(44);

    // Figures in words, fixed decimals, the explainer one click away, axes and legends, one r_v mark.
    for (const side of SIDES) {
      const reward = page.getByTestId(`reward-${side}`);
      for (const word of ['region reward', 'token in region', 'region attention', 'image attention', 'image share'])
        await expect(reward).toContainText(word);
      await expect(page.getByTestId(`rv-${side}`)).toHaveText(/^-?\d\.\d{3}$/);
      expect(await reward.textContent()).not.toMatch(/\de-\d/);
      await expect(page.getByTestId(`spark-${side}`).locator('.y-axis text')).not.toHaveCount(0);
    }
    await expect(page.getByTestId('head-matrix-legend').locator('svg')).toHaveCount(1);
    // The head matrix is a canvas named by its summary; hovering a cell names it, clicking it shows that head.
    const matrix = page.getByTestId('head-matrix-trained').locator('canvas');
    await expect(matrix).toHaveAttribute(
      'aria-label',
      /^R_a per layer and head, trained: \d+ layers × \d+ heads; highest layer/,
    );
    const cell = { x: 34 + 1 * 18 + 9, y: 16 + 0 * 18 + 9 }; // head 1 of the first captured layer
    await matrix.hover({ position: cell });
    const firstLayer = (await matrix.getAttribute('title'))!.match(/^layer (\d+), head 1: /)![1];
    await matrix.click({ position: cell });
    await expect(page.getByTestId('head-select')).toHaveValue('head-1');
    await expect(page.getByTestId('layer-select')).toHaveValue(firstLayer);
    await expect(page.getByTestId('panel-base')).toContainText(`layer ${firstLayer}`);
    await page.getByTestId('head-select').selectOption('mean');
    await page.getByTestId('layer-select').selectOption('-1');
    // The alignment: named in each panel, switched for both; the input alignment gives other figures, produced restores them.
    const rvs = () => Promise.all(SIDES.map((s) => page.getByTestId(`reward-${s}`).getAttribute('data-rv')));
    const produced = await rvs();
    for (const side of SIDES) await expect(page.getByTestId(`alignment-${side}`)).toContainText('alignment produced');
    await page.getByTestId('alignment-select').selectOption('input');
    for (const side of SIDES)
      await expect(page.getByTestId(`reward-${side}`)).toHaveAttribute('data-alignment', 'input');
    await expect(page.getByTestId(`alignment-${longer}`)).toContainText(`tokens 0…${nLong - 2} scored`);
    expect(await rvs()).not.toEqual(produced);
    await page.getByTestId('alignment-select').selectOption('produced');
    expect(await rvs()).toEqual(produced);
    await expect(page.getByText('r_v = tanh(log(a_q / v_q))')).toBeHidden();
    await page.getByTestId('explainer-toggle').click();
    await expect(page.getByText(/r_v = tanh\(log\(a_q \/ v_q\)\)/)).toBeVisible();
    const markColours = await page.evaluate(() => ({
      strip: getComputedStyle(document.querySelector('.tok.counts')!, '::after').color,
      chart: getComputedStyle(document.querySelector('[data-testid=spark-base] .selected circle')!).fill,
    }));
    expect(markColours.strip).toBe(markColours.chart);

    // The reward sits above the heatmap, which uses more than the old fixed 420 px.
    const rewardBox = (await page.getByTestId('reward-base').boundingBox())!;
    const heatBox = (await page.getByTestId('heatmap-base').boundingBox())!;
    expect(rewardBox.y + rewardBox.height).toBeLessThanOrEqual(heatBox.y + 1);
    expect(heatBox.width).toBeGreaterThan(420);

    // Region list: visible, drawing replaces (or adds, when chosen), integer pixels, delete and clear.
    const { width, height } = (await sharp(path.join('public/samples', sample.image)).metadata()) as {
      width: number;
      height: number;
    };
    await expect(page.getByTestId('region-0')).toBeVisible();
    await drag(page, { width, height }, width * 0.55, height * 0.55, width * 0.9, height * 0.85);
    let boxes = await boxesOf(page);
    expect(boxes).toHaveLength(1);
    expect(Math.abs(boxes[0][0] - width * 0.55)).toBeLessThanOrEqual(2);
    expect(Math.abs(boxes[0][3] - height * 0.85)).toBeLessThanOrEqual(2);
    // While the box is edited, the reward above the heatmap is on screen.
    const inView = (await page.getByTestId('reward-base').boundingBox())!;
    expect(inView.y).toBeGreaterThanOrEqual(0);
    expect(inView.y + inView.height).toBeLessThanOrEqual(900);
    await drag(
      page,
      { width, height },
      (boxes[0][0] + boxes[0][2]) / 2 + 0.37,
      (boxes[0][1] + boxes[0][3]) / 2 + 0.21,
      width * 0.33 + 0.29,
      height * 0.41 + 0.13,
    );
    boxes = await boxesOf(page);
    expect(boxes.flat().every(Number.isInteger)).toBe(true);
    await expect(page.getByTestId('region-0')).toContainText(`x ${boxes[0][0]}–${boxes[0][2]}`);
    await page.getByTestId('draw-mode').selectOption('add');
    await drag(page, { width, height }, width * 0.05, height * 0.05, width * 0.25, height * 0.25);
    expect(await boxesOf(page)).toHaveLength(2);
    await page.getByTestId('region-delete-1').click();
    expect(await boxesOf(page)).toEqual(boxes);
    await page.getByTestId('region-clear').click();
    expect(await boxesOf(page)).toEqual([]);

    // PNG export at ≥ 1024 px.
    await page.getByTestId(`sample-${sample.id}`).click();
    await runDone(page);
    fs.mkdirSync(DIR, { recursive: true });
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-png').click()]);
    const file = path.join(DIR, 'export.png');
    await png.saveAs(file);
    expect((await sharp(file).metadata()).width).toBeGreaterThanOrEqual(1024);

    // A photo-like image of the user's own: the pair notice, once.
    const own = path.join(DIR, 'own-photo.png');
    await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 140, b: 60 } } })
      .png()
      .toFile(own);
    await page.getByTestId('image-input').setInputFiles(own);
    await expect(page.getByTestId('image-info')).toContainText('own-photo.png');
    await expect(page.getByTestId('pair-notice')).toHaveCount(1);
    await expect(page.getByTestId('pair-notice')).toContainText('synthetic');
    await expect(page.getByTestId('pair-notice')).toContainText('Other checkpoint');
  });
});

for (const viewport of [
  { width: 390, height: 844 },
  { width: 360, height: 740 },
]) {
  test(`phone ${viewport.width}×${viewport.height}: no horizontal scroll, every control on screen`, async ({
    page,
  }) => {
    test.setTimeout(240_000);
    await page.setViewportSize(viewport);
    await page.goto('/?backend=wasm');
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await ready(page, 'wasm');
    await pick(page);
    await runDone(page);
    expect(await overflow()).toBeLessThanOrEqual(0);
    for (const id of [
      'image-input',
      'run-button',
      'stop-button',
      'cross-button',
      'heatmap-base',
      'heatmap-trained',
      'export-png',
    ]) {
      const b = (await page.getByTestId(id).boundingBox())!;
      expect(b.x, id).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width, id).toBeLessThanOrEqual(viewport.width);
    }
    const drop = (await page.locator('.dropzone').boundingBox())!;
    expect(drop.x + drop.width).toBeLessThanOrEqual(viewport.width);
  });
}
