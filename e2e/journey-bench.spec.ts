/**
 * @file Heatmap redraw benchmark in real Chromium: a session with a 1,300-token grid (26 × 50 cells, 4 layers × 4
 * heads, 60 tokens; the deterministic session fixture, since SAYO-mini's max_pixels allows at most 144 cells) is
 * imported (its image is the fixture's own, of the declared size, as session import requires), then the token strip is scrubbed with ArrowRight and each step is timed from the key event to the next
 * animation frame (React update + both heatmaps, the difference map and the reward panels redrawn, plus the wait for
 * the frame), the synchronous script part of it (render, commit, effects), and each heatmap draw from its performance
 * measure. Prints ms per frame and per draw with the machine's load average; no
 * timed assertion (the machine is shared).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { makeSession } from '../lab/testutils/session.ts';
import { serializeSession } from '../src/session/serialize.ts';

const OUT = 'test-results/journey-bench';

test('heatmap redraw while scrubbing tokens on a 1,300-token grid', async ({ page }) => {
  const session = makeSession({
    rows: 26,
    cols: 50,
    layers: [0, 1, 2, 3],
    heads: 4,
    tokens: 60,
    width: 1400,
    height: 728,
    seed: 7,
  });
  session.view = { ...session.view, token: 0, layer: 3, norm: 'shared' };
  fs.mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, 'grid-1300.json');
  fs.writeFileSync(file, serializeSession(session));

  await page.goto('/?backend=wasm');
  await page.getByTestId('import-json').setInputFiles(file);
  await expect(page.getByTestId('token-base-59')).toBeVisible();
  await page.getByTestId('token-base-0').click();
  await page.mouse.move(1, 1);

  const {
    out: frames,
    sync,
    draws,
  } = await page.evaluate(async () => {
    const strip = document.querySelector('[role=listbox]') as HTMLElement;
    const nextFrame = () => new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    await nextFrame();
    performance.clearMeasures('sayo:heatmap-draw');
    const out: number[] = [];
    const sync: number[] = [];
    for (let i = 0; i < 59; i++) {
      const t0 = performance.now();
      const drawsBefore = performance.getEntriesByName('sayo:heatmap-draw').length;
      strip.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
      // React renders a discrete update in a microtask and runs its effects (the canvas draws) right after commit.
      await new Promise<void>((r) => queueMicrotask(r));
      if (performance.getEntriesByName('sayo:heatmap-draw').length >= drawsBefore + 2)
        sync.push(performance.now() - t0);
      await nextFrame();
      out.push(performance.now() - t0);
    }
    return { out, sync, draws: performance.getEntriesByName('sayo:heatmap-draw').map((e) => e.duration) };
  });
  await expect(page.getByTestId('picked-token')).toHaveText(/token 59/);
  const q = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))];
  };
  const result = {
    grid: '26x50 (1300 cells)',
    frames: frames.length,
    frameMedianMs: q(frames, 0.5),
    frameP90Ms: q(frames, 0.9),
    syncMedianMs: q(sync, 0.5),
    syncP90Ms: q(sync, 0.9),
    drawMedianMs: q(draws, 0.5),
    drawP90Ms: q(draws, 0.9),
    draws: draws.length,
    loadAverage: os.loadavg()[0],
  };
  fs.writeFileSync(
    path.join(OUT, 'result.json'),
    JSON.stringify({ ...result, frameMs: frames.map((f) => Number(f.toFixed(2))) }, null, 1),
  );
  console.log(
    `heatmap redraw while scrubbing, ${result.grid}: whole frame (key → next frame, both panels + difference map + rewards) ` +
      `median ${result.frameMedianMs.toFixed(1)} ms, p90 ${result.frameP90Ms.toFixed(1)} ms; main-thread script per token ` +
      `(render + commit + canvas draws) median ${result.syncMedianMs.toFixed(1)} ms, p90 ${result.syncP90Ms.toFixed(1)} ms; one heatmap draw median ` +
      `${result.drawMedianMs.toFixed(2)} ms, p90 ${result.drawP90Ms.toFixed(2)} ms (${result.draws} draws); load average ${result.loadAverage.toFixed(1)} on ${os.cpus().length} cores`,
  );
  expect(frames).toHaveLength(59);
  expect(draws.length).toBeGreaterThanOrEqual(2 * 59);
  console.log(
    `script part measured on ${sync.length} of ${frames.length} steps (both heatmaps drawn before the microtask ended)`,
  );
});
