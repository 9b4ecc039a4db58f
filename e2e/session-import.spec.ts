/**
 * @file A question of a batch evaluation opened in the lens with no model loaded, in real Chromium against the built
 * app: `sayo eval --sessions` (spawned for real) writes session files, every model file request of the page is
 * refused (so no checkpoint can load), and the imported file shows the image, both answers, their heatmaps and the
 * row's r_v, with the note that nothing can run. First on a tiny exported Qwen3-VL pair (lab/support/exports.ts),
 * then on the embedded SAYO-mini pair over held-out questions (`--keep diff:1`), whose views are screenshotted to
 * test-results/session-import, and to docs/screenshots/session-import-{desktop,phone}.png (the walkthrough's) when
 * SAYO_UPDATE_SCREENSHOTS=1, so that a CI run leaves the tracked pictures alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { runSayo } from '../lab/testutils/run-cli.ts';
import { buildExports, EXPORT_BUILD_TIMEOUT_MS, type Exports } from '../lab/support/exports.ts';
import { SIDES } from './support/app.ts';

const SHOTS = process.env.SAYO_UPDATE_SCREENSHOTS === '1' ? 'docs/screenshots' : 'test-results/session-import';
let exports: Exports;
let tmp = '';

test.beforeAll(() => {
  test.setTimeout(EXPORT_BUILD_TIMEOUT_MS + 240_000);
  exports = buildExports();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-session-import-'));
});
test.afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Row {
  model: string;
  line: number;
  text: string;
  R_a: number;
  r_v: number;
  session: string | null;
}

/** `sayo eval` with sessions into `out`; returns results.json's rows. */
function evaluate(args: string[], out: string): Row[] {
  const run = runSayo(['eval', ...args, '--out', out, '--sessions', path.join(out, 'sessions')], 300_000);
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).rows;
}

/** The app with every model file refused (the registry itself is served): no checkpoint can load. */
async function openWithoutModels(page: Page): Promise<void> {
  await page.route(
    (url) => url.pathname.includes('/models/') && !url.pathname.endsWith('/registry.json'),
    (route) => route.abort(),
  );
  await page.goto('/?backend=wasm');
  for (const side of SIDES)
    await expect(page.getByTestId(`model-status-${side}`)).toHaveAttribute('data-state', 'error', { timeout: 60_000 });
}

/** Imports a session file and checks that both answers, their heatmaps and the rows' figures are on screen. */
async function importAndCheck(page: Page, file: string, rows: Record<(typeof SIDES)[number], Row>): Promise<void> {
  await page.getByTestId('import-json').setInputFiles(file);
  await expect(page.getByTestId('view-only-note')).toContainText('No model is loaded');
  for (const side of SIDES) {
    await expect(page.getByTestId(`answer-${side}`)).not.toHaveText('');
    await expect(page.getByTestId(`heatmap-${side}`)).toBeVisible();
    // The heatmap carries a colour domain, and the panel's reward is the row's: the file shows what results.csv says.
    expect(await page.getByTestId(`heatmap-${side}`).getAttribute('data-domain')).toMatch(/^[\d.e-]+,[\d.e-]+$/);
    const rv = Number(await page.getByTestId(`reward-${side}`).getAttribute('data-rv'));
    expect(Math.abs(rv - rows[side].r_v)).toBeLessThan(1e-3);
    const ra = Number(await page.getByTestId(`reward-${side}`).getAttribute('data-ra'));
    expect(Math.abs(ra - rows[side].R_a)).toBeLessThan(1e-3);
  }
  // The teacher-forced panels came along: the base's answer under both models, read from the file alone. (A tiny
  // random-vocabulary pair splits bytes differently per tokenizer, so token pieces that are not whole characters
  // show as U+FFFD in different numbers: compared without them.)
  const shown = async (side: string) =>
    ((await page.getByTestId(`answer-${side}`).textContent()) ?? '').replace(/\uFFFD/g, '');
  const own = { base: await shown('base'), trained: await shown('trained') };
  await page.getByTestId('compare-mode').selectOption('base-answer');
  await expect.poll(() => shown('trained')).toBe(own.base);
  await page.getByTestId('compare-mode').selectOption('trained-answer');
  await expect.poll(() => shown('base')).toBe(own.trained);
  await page.getByTestId('compare-mode').selectOption('own');
  await expect(page.getByTestId('run-button')).toBeDisabled();
  await expect(page.getByTestId('cross-button')).toBeDisabled();
}

/** The pair's rows of one record line (first --model: base, last: trained). */
function pairRows(rows: Row[], line: number, base: string, trained: string): Record<(typeof SIDES)[number], Row> {
  return {
    base: rows.find((r) => r.model === base && r.line === line)!,
    trained: rows.find((r) => r.model === trained && r.line === line)!,
  };
}

test('a session written by sayo eval on a tiny exported pair opens with no model loaded', async ({ page }) => {
  const [a, b] = [exports.folder('qwen3_vl'), exports.folder('qwen3_vl_deepstack')];
  fs.copyFileSync(path.join(exports.dir, 'qwen3_vl.png'), path.join(tmp, 'tiny.png'));
  const set = path.join(tmp, 'tiny.jsonl');
  fs.writeFileSync(
    set,
    JSON.stringify({
      image: 'tiny.png',
      question: exports.reference.qwen3_vl.question,
      answer: 'red',
      boxes: [[0, 0, 80, 64]],
    }) + '\n',
  );
  const out = path.join(tmp, 'tiny-out');
  const rows = evaluate(['--model', a, '--model', b, '--data', set, '--max-new-tokens', '4', '--keep', 'all'], out);
  const file = path.join(out, rows[0].session!);
  await openWithoutModels(page);
  await importAndCheck(page, file, pairRows(rows, 1, a, b));
  await expect(page.getByTestId('image-info')).toContainText('tiny.png: 160×128 px');
});

test('the held-out question where SAYO-mini looks most differently, opened from sayo eval --keep diff:1 (screenshots)', async ({
  page,
}) => {
  const out = path.join(tmp, 'mini-out');
  const rows = evaluate(
    [
      '--model',
      'sayo-mini-base',
      '--model',
      'sayo-mini',
      '--data',
      'data/heldout/set.jsonl',
      '--limit',
      '12',
      '--keep',
      'diff:1',
    ],
    out,
  );
  const kept = rows.filter((r) => r.session);
  expect(kept).toHaveLength(2);
  const file = path.join(out, kept[0].session!);
  for (const [name, viewport] of [
    ['desktop', { width: 1440, height: 900 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    await page.setViewportSize(viewport);
    await openWithoutModels(page);
    await importAndCheck(page, file, pairRows(rows, kept[0].line, 'sayo-mini-base', 'sayo-mini'));
    const answer = kept
      .find((r) => r.model === 'sayo-mini')!
      .text.replace(/<\/?answer>/g, '')
      .trim();
    await expect(page.getByTestId('answer-trained')).toContainText(answer.split(' ')[0]);
    // No horizontal scroll at either width.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    // The note at the top of the screen, the panels and their heatmaps under it.
    await page.getByTestId('view-only-note').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(SHOTS, `session-import-${name}.png`) });
  }
});
