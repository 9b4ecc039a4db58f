/**
 * @file The user journey in real Chromium on the WASM backend, against the built app: pick a sample → ask → both
 * answers stream → pick tokens → draw a region (the reward changes, pixels inside the box change) → move it (r_v
 * recomputes live) → compare on identical tokens (cross-scoring) → export PNG and JSON → reload (the session is
 * back) → import the JSON in a fresh browser (viewed with no model run). Screenshots are decoded and checked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Locator, type Page } from '@playwright/test';
import sharp from 'sharp';

const SHOTS = 'test-results/journey';
/** The first bundled sample (read, not assumed: the pipeline may regenerate the set). */
const SAMPLE = (
  JSON.parse(fs.readFileSync('public/samples/samples.json', 'utf8')) as {
    id: string;
    image: string;
    question: string;
    boxes: number[][];
  }[]
)[0];
const INFERNO_TOP: [number, number, number] = [252, 255, 164];

/** Decoded RGBA pixels of an element screenshot (saved under test-results/journey/). */
async function shot(el: Locator, name: string) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await el.screenshot({ path: file });
  const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, file };
}

/** Mean absolute RGB difference of two same-size shots inside a rectangle (CSS px of the element). */
function meanDiff(
  a: Awaited<ReturnType<typeof shot>>,
  b: Awaited<ReturnType<typeof shot>>,
  r: { x: number; y: number; w: number; h: number },
) {
  let sum = 0;
  let count = 0;
  for (let y = Math.max(0, Math.floor(r.y)); y < Math.min(a.height, r.y + r.h); y++) {
    for (let x = Math.max(0, Math.floor(r.x)); x < Math.min(a.width, r.x + r.w); x++) {
      const i = (y * a.width + x) * 4;
      sum +=
        Math.abs(a.data[i] - b.data[i]) +
        Math.abs(a.data[i + 1] - b.data[i + 1]) +
        Math.abs(a.data[i + 2] - b.data[i + 2]);
      count++;
    }
  }
  return sum / count / 3;
}

/** Pixels within `tol` of an RGB colour. */
function countNear(s: Awaited<ReturnType<typeof shot>>, c: [number, number, number], tol = 8): number {
  let n = 0;
  for (let i = 0; i < s.data.length; i += 4) {
    if (
      Math.abs(s.data[i] - c[0]) <= tol &&
      Math.abs(s.data[i + 1] - c[1]) <= tol &&
      Math.abs(s.data[i + 2] - c[2]) <= tol
    )
      n++;
  }
  return n;
}

const attr = async (page: Page, id: string, name: string) => (await page.getByTestId(id).getAttribute(name)) ?? '';

async function waitDone(page: Page) {
  for (const side of ['base', 'trained'])
    await expect(page.getByTestId(`status-${side}`)).toHaveText(/^done/, { timeout: 120_000 });
}

test('journey: sample → ask → stream → tokens → region → reward → compare → export → reload → import', async ({
  page,
  browser,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Watch the loading feedback (per-file progress lines) and main-thread long tasks from the first script on.
  await page.addInitScript(() => {
    const w = window as unknown as { __watch: { fileLines: string[]; longTasks: number[] } };
    w.__watch = { fileLines: [], longTasks: [] };
    new PerformanceObserver((list) => list.getEntries().forEach((e) => w.__watch.longTasks.push(e.duration))).observe({
      type: 'longtask',
      buffered: true,
    });
    document.addEventListener('DOMContentLoaded', () =>
      new MutationObserver(() => {
        for (const li of document.querySelectorAll('[data-testid^=model-status-] .files li')) {
          if (!w.__watch.fileLines.includes(li.textContent!)) w.__watch.fileLines.push(li.textContent!);
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true }),
    );
  });
  await page.goto('/?backend=wasm');
  for (const side of ['base', 'trained']) {
    await expect(page.getByTestId(`model-status-${side}`)).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
    await expect(page.getByTestId(`model-status-${side}`)).toHaveAttribute('data-backend', 'wasm');
  }

  // Loading feedback: each checkpoint file was listed with its download progress.
  const fileLines = await page.evaluate(
    () => (window as unknown as { __watch: { fileLines: string[] } }).__watch.fileLines,
  );
  expect(fileLines.some((l) => /decoder_model_merged.*MB/.test(l))).toBe(true);
  await expect(page.getByTestId('model-status-base')).toContainText('WASM (requested)');

  // Pick a sample: image, question and its key region arrive together.
  const { width: W, height: H } = await sharp(path.join('public/samples', SAMPLE.image)).metadata();
  await page.getByTestId(`sample-${SAMPLE.id}`).click();
  await expect(page.getByTestId('image-info')).toContainText(`${SAMPLE.image}: ${W}×${H} px`);
  await expect(page.getByTestId('question-input')).toHaveValue(SAMPLE.question);
  expect(JSON.parse(await attr(page, 'region-layer', 'data-boxes'))).toEqual(SAMPLE.boxes);

  // Ask: both answers stream (a token is on screen while the panel still says "running").
  await page.evaluate(() => {
    const w = window as unknown as { __streamed: Record<string, boolean> };
    w.__streamed = {};
    new MutationObserver(() => {
      for (const side of ['base', 'trained']) {
        const running = document.querySelector(`[data-testid=status-${side}]`)?.textContent?.startsWith('running');
        if (running && document.querySelector(`[data-testid=token-${side}-0]`)) w.__streamed[side] = true;
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const longBefore = await page.evaluate(
    () => (window as unknown as { __watch: { longTasks: number[] } }).__watch.longTasks.length,
  );
  await page.getByTestId('run-button').click();
  await waitDone(page);
  // Inference runs in the worker: report the page's long tasks during generation (printed, not asserted: shared CPU).
  const long = (
    await page.evaluate(() => (window as unknown as { __watch: { longTasks: number[] } }).__watch.longTasks)
  ).slice(longBefore);
  console.log(
    `main-thread long tasks while both models generated: ${long.length}, longest ${Math.max(0, ...long).toFixed(0)} ms`,
  );
  expect(await page.evaluate(() => (window as unknown as { __streamed: Record<string, boolean> }).__streamed)).toEqual({
    base: true,
    trained: true,
  });
  const answers = {
    base: await page.getByTestId('answer-base').textContent(),
    trained: await page.getByTestId('answer-trained').textContent(),
  };
  expect(answers.base!.length).toBeGreaterThan(0);
  expect(answers.trained!.length).toBeGreaterThan(0);
  await expect(page.getByTestId('error')).toHaveCount(0);

  // One colour scale for both heatmaps: same domain, and the top colour of the scale appears in one panel only
  // (per-panel normalisation would put it in both). Opacity 1 so cells show pure scale colours.
  await page.getByTestId('opacity').fill('1');
  expect(await attr(page, 'heatmap-base', 'data-domain')).toBe(await attr(page, 'heatmap-trained', 'data-domain'));
  await expect(page.getByTestId('legend').locator('svg')).toHaveCount(1);
  const topB = countNear(await shot(page.getByTestId('heatmap-base'), 'scale-base'), INFERNO_TOP);
  const topT = countNear(await shot(page.getByTestId('heatmap-trained'), 'scale-trained'), INFERNO_TOP);
  expect(Math.max(topB, topT)).toBeGreaterThan(100);
  expect(Math.min(topB, topT)).toBeLessThan(0.1 * Math.max(topB, topT));
  await page.getByTestId('opacity').fill('0.6');

  // Pick tokens: click, arrow keys; the picked token's R_a is exposed and changes with the token.
  await page.getByTestId('token-trained-0').click();
  await expect(page.getByTestId('picked-token')).toHaveText(/token 0/);
  const ra0 = await attr(page, 'reward-trained', 'data-ra');
  await page.getByRole('listbox', { name: /trained answer tokens/ }).press('ArrowRight');
  await expect(page.getByTestId('picked-token')).toHaveText(/token 1/);
  expect(await attr(page, 'reward-trained', 'data-ra')).not.toBe('');
  expect(ra0).not.toBe('');

  // Draw a second region with the mouse over the base heatmap: the box is in both panels, r_v changes, and the
  // pixels inside the drawn box change on the heatmap screenshot.
  await page.mouse.move(2, 2); // leave the token strip: hovering a token previews it
  const rvBefore = Number(await attr(page, 'reward-base', 'data-rv'));
  const before = await shot(page.getByTestId('heatmap-base'), 'before-draw');
  const layer = page.getByTestId('region-layer');
  await page.getByTestId('draw-mode').selectOption('add'); // keep the sample's box, add one
  await layer.scrollIntoViewIfNeeded();
  const bb = (await layer.boundingBox())!;
  const sx = bb.width / W!;
  const sy = bb.height / H!;
  const draw = {
    x1: Math.round(W! * 0.63),
    y1: Math.round(H! * 0.6),
    x2: Math.round(W! * 0.92),
    y2: Math.round(H! * 0.9),
  };
  await page.mouse.move(bb.x + draw.x1 * sx, bb.y + draw.y1 * sy);
  await page.mouse.down();
  await page.mouse.move(bb.x + ((draw.x1 + draw.x2) / 2) * sx, bb.y + ((draw.y1 + draw.y2) / 2) * sy, { steps: 4 });
  await page.mouse.move(bb.x + draw.x2 * sx, bb.y + draw.y2 * sy, { steps: 4 });
  await page.mouse.up();
  const boxes = JSON.parse(await attr(page, 'region-layer', 'data-boxes')) as number[][];
  expect(boxes).toHaveLength(2);
  expect(Math.abs(boxes[1][0] - draw.x1)).toBeLessThanOrEqual(2);
  expect(Math.abs(boxes[1][3] - draw.y2)).toBeLessThanOrEqual(2);
  expect(await attr(page, 'region-layer-trained', 'data-boxes')).toBe(JSON.stringify(boxes));
  const rvDrawn = Number(await attr(page, 'reward-base', 'data-rv'));
  expect(rvDrawn).not.toBe(rvBefore);
  const after = await shot(page.getByTestId('heatmap-base'), 'after-draw');
  const inBox = {
    x: draw.x1 * sx - 2,
    y: draw.y1 * sy - 2,
    w: (draw.x2 - draw.x1) * sx + 4,
    h: (draw.y2 - draw.y1) * sy + 4,
  };
  const outside = { x: 8, y: bb.height * 0.45, w: bb.width * 0.1, h: bb.height * 0.1 }; // clear of the focus ring
  expect(meanDiff(before, after, inBox)).toBeGreaterThan(5);
  expect(meanDiff(before, after, outside)).toBeLessThan(1);

  // Move the new box by dragging it: r_v recomputes live (no model run: status stays done).
  await page.mouse.move(bb.x + ((draw.x1 + draw.x2) / 2) * sx, bb.y + ((draw.y1 + draw.y2) / 2) * sy);
  await page.mouse.down();
  await page.mouse.move(
    bb.x + ((draw.x1 + draw.x2) / 2 - W! * 0.15) * sx,
    bb.y + ((draw.y1 + draw.y2) / 2 - H! * 0.2) * sy,
    { steps: 5 },
  );
  await page.mouse.up();
  const moved = JSON.parse(await attr(page, 'region-layer', 'data-boxes')) as number[][];
  expect(moved[1][0]).toBeLessThan(boxes[1][0]);
  expect(Number(await attr(page, 'reward-base', 'data-rv'))).not.toBe(rvDrawn);
  await expect(page.getByTestId('status-base')).toHaveText(/^done/);

  // Compare on identical tokens: cross-score, then show the base answer under both models.
  await page.getByTestId('cross-button').click();
  await expect(page.getByTestId('compare-mode').locator('option[value=base-answer]')).toBeEnabled({ timeout: 120_000 });
  await page.getByTestId('compare-mode').selectOption('base-answer');
  await expect(page.getByTestId('status-trained')).toHaveText(/done \(teacher-forced\)/, { timeout: 120_000 });
  expect(await page.getByTestId('answer-trained').textContent()).toBe(answers.base);
  const n = await page.locator('[data-testid^=token-base-]').count();
  for (let i = 0; i < n; i++) {
    expect(await page.getByTestId(`token-trained-${i}`).textContent()).toBe(
      await page.getByTestId(`token-base-${i}`).textContent(),
    );
  }
  await page.getByTestId('compare-mode').selectOption('own');

  // Export PNG (decoded: a real image with heat colours) and the session JSON.
  const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-png').click()]);
  const pngFile = path.join(SHOTS, 'export.png');
  await png.saveAs(pngFile);
  const meta = await sharp(pngFile).metadata();
  expect(meta.format).toBe('png');
  expect(meta.width).toBeGreaterThanOrEqual(Math.min(320, W!));
  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  const jsonFile = path.join(SHOTS, 'session.json');
  await json.saveAs(jsonFile);
  const session = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  expect(session.panels).toHaveLength(4);
  expect(session.boxes).toEqual(moved);

  // Reload: the session is back from IndexedDB, the view from the URL.
  const rvNow = await attr(page, 'reward-base', 'data-rv');
  await page.getByTestId('token-base-1').click();
  await page.waitForTimeout(800);
  await page.reload();
  await expect(page.getByTestId('answer-base')).toHaveText(answers.base!);
  await expect(page.getByTestId('answer-trained')).toHaveText(answers.trained!);
  expect(await attr(page, 'reward-base', 'data-rv')).toBe(rvNow);
  expect(await attr(page, 'region-layer', 'data-boxes')).toBe(JSON.stringify(moved));
  await expect(page.getByTestId('picked-token')).toHaveText(/token 1/);
  expect(page.url()).toContain('token=1');

  // Import the JSON in a fresh browser context (empty IndexedDB): viewed with no model run.
  const fresh = await browser.newContext();
  const p2 = await fresh.newPage();
  await p2.goto('/?backend=wasm');
  await expect(p2.getByTestId('answer-base')).toHaveCount(0);
  await p2.getByTestId('import-json').setInputFiles(jsonFile);
  await expect(p2.getByTestId('answer-base')).toHaveText(answers.base!);
  expect(await attr(p2, 'reward-base', 'data-rv')).toBe(rvNow);
  await expect(p2.getByTestId('heatmap-base')).toBeVisible();
  await fresh.close();
  expect(errors).toEqual([]);
});

test('a checkpoint from a picked folder answers like the same registry checkpoint', async ({ page }) => {
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('model-status-trained')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await page.getByTestId('folder-base').setInputFiles('models/sayo-mini');
  await expect(page.getByTestId('model-base')).toHaveValue('folder:sayo-mini');
  await expect(page.getByTestId('model-status-base')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await page.getByTestId(`sample-${SAMPLE.id}`).click();
  await expect(page.getByTestId('image-info')).toContainText(SAMPLE.image);
  await page.getByTestId('run-button').click();
  await waitDone(page);
  await expect(page.getByRole('heading', { name: 'Base: sayo-mini (folder)' })).toBeVisible();
  expect(await page.getByTestId('answer-base').textContent()).toBe(
    await page.getByTestId('answer-trained').textContent(),
  );
  expect(await attr(page, 'reward-base', 'data-rv')).toBe(await attr(page, 'reward-trained', 'data-rv'));
});
