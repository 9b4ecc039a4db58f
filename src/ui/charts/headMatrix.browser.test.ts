/**
 * @file The head matrix in real Chromium (headless Debian chromium via playwright-core): every canvas pixel of every
 * cell is its planned colour at pixel ratios 1 and 2 (the gaps clear), the picked head is outlined, a real mouse click picks the
 * cell under it, hovering names the cell, the keyboard cursor moves with the arrow keys and Enter / Space pick, and
 * a redraw with the same shape keeps the same canvas and its labels, every pixel as on a fresh canvas.
 */
import { describe, expect, it } from 'vitest';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useChromiumPage } from '../../../lab/support/bundle.ts';

const ENTRY = `
import { headMatrixPlan, renderHeadMatrix, HEAD_MATRIX_DEFAULTS } from './headMatrix.ts';
import { sharedScale } from './scale.ts';

const layers = Array.from({ length: 28 }, (_, l) => l);
const heads = 12;
const values = Float32Array.from({ length: 336 }, (_, i) => ((i * 7919) % 336) / 335);
const scale = sharedScale([values], 'raw');
const picks = [];
let canvas = null;

window.lens = {
  pixels(pixelRatio) {
    const options = { scale, picked: { layer: 3, head: 5 }, pixelRatio };
    const plan = headMatrixPlan({ values, layers, heads }, options);
    const c = renderHeadMatrix({ values, layers, heads }, options);
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let wrong = 0;
    let checked = 0;
    for (const cell of plan.cells) {
      if (cell.index === plan.picked) continue;
      for (let y = cell.y * pixelRatio; y < (cell.y + cell.size) * pixelRatio; y++) for (let x = cell.x * pixelRatio; x < (cell.x + cell.size) * pixelRatio; x++) {
        const i = (y * c.width + x) * 4;
        checked++;
        if (data[i] !== cell.rgb[0] || data[i + 1] !== cell.rgb[1] || data[i + 2] !== cell.rgb[2] || data[i + 3] !== 255) wrong++;
      }
    }
    const p = plan.cells[plan.picked];
    const at = (x, y) => Array.from(data.slice((y * c.width + x) * 4, (y * c.width + x) * 4 + 4));
    return {
      size: [c.width, c.height], css: [c.style.width, c.style.height], planned: [plan.layout.width, plan.layout.height],
      checked, wrong, picked: p.index, pickedEdge: at((p.x + 1) * pixelRatio, (p.y + 8) * pixelRatio),
      pickedCentre: at((p.x + 8) * pixelRatio, (p.y + 8) * pixelRatio), pickedRgb: p.rgb,
      gaps: [at((plan.cells[0].x + 17) * pixelRatio, (plan.cells[0].y + 5) * pixelRatio), at((plan.cells[0].x + 5) * pixelRatio, (plan.cells[0].y + 17) * pixelRatio)], stroke: HEAD_MATRIX_DEFAULTS.pickedStroke,
      label: c.getAttribute('aria-label'), role: c.getAttribute('role'), tabIndex: c.tabIndex,
    };
  },
  mount() {
    picks.length = 0;
    canvas = renderHeadMatrix({ values, layers, heads }, { scale, onPick: (l, h) => picks.push([l, h]), label: 'R_a, trained' });
    document.body.replaceChildren(canvas);
    const r = canvas.getBoundingClientRect();
    return { left: r.left, top: r.top, label: canvas.getAttribute('aria-label'), tabIndex: canvas.tabIndex };
  },
  state() {
    return { picks: picks.slice(), title: canvas.title, label: canvas.getAttribute('aria-label'), focused: document.activeElement === canvas };
  },
  redraw() {
    const other = values.map((v) => 1 - v);
    const again = renderHeadMatrix({ values: other, layers, heads }, { scale, onPick: (l, h) => picks.push(['again', l, h]) }, canvas);
    const fresh = renderHeadMatrix({ values: other, layers, heads }, { scale, onPick: () => {} });
    const a = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const b = fresh.getContext('2d').getImageData(0, 0, fresh.width, fresh.height).data;
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
    const otherShape = renderHeadMatrix({ values: other.subarray(0, 12), layers: [0], heads }, { scale }, canvas);
    return { same: again === canvas, inDocument: canvas.isConnected, differ, otherShape: otherShape !== canvas };
  },
  inPlace(pixelRatio) {
    // Redrawn in place (labels kept, cells and outlines redrawn) with a moved picked head and new values, at a pixel
    // ratio: every pixel as on a fresh canvas.
    const options = (picked) => ({ scale, picked, pixelRatio, onPick: () => {} });
    const c = renderHeadMatrix({ values, layers, heads }, options({ layer: 3, head: 5 }));
    let again = c;
    for (let i = 1; i <= 3; i++) again = renderHeadMatrix({ values: values.map((v) => (v * i * 0.37) % 1), layers, heads }, options({ layer: 20 + i, head: i }), c);
    const fresh = renderHeadMatrix({ values: values.map((v) => (v * 3 * 0.37) % 1), layers, heads }, options({ layer: 23, head: 3 }));
    const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const b = fresh.getContext('2d').getImageData(0, 0, fresh.width, fresh.height).data;
    let differ = 0;
    let inked = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
    // The labels are there (ink left of the cells).
    for (let y = 16 * pixelRatio; y < c.height; y++) for (let x = 0; x < 30 * pixelRatio; x++) if (a[(y * c.width + x) * 4 + 3] > 0) inked++;
    return { same: again === c, differ, inked };
  },
};
`;

describe('head matrix in Chromium', () => {
  const h = useChromiumPage(ENTRY, dirname(fileURLToPath(import.meta.url)));
  const { call } = h;
  const { left: L, top: T, cell: C } = { left: 34, top: 16, cell: 18 };

  it('paints every cell pixel its planned colour at pixel ratios 1 and 2, the picked head outlined', async () => {
    for (const pr of [1, 2]) {
      const r = await call<any>('pixels', pr);
      expect(r.size).toEqual([r.planned[0] * pr, r.planned[1] * pr]);
      expect(r.css).toEqual([`${r.planned[0]}px`, `${r.planned[1]}px`]);
      expect(r.checked).toBe(335 * 17 * 17 * pr * pr);
      expect({ pr, wrong: r.wrong }).toEqual({ pr, wrong: 0 });
      expect(
        '#' +
          r.pickedEdge
            .slice(0, 3)
            .map((v: number) => v.toString(16).padStart(2, '0'))
            .join(''),
      ).toBe(r.stroke);
      expect(r.pickedCentre.slice(0, 3)).toEqual(r.pickedRgb);
      expect(r.gaps.map((g: number[]) => g[3])).toEqual([0, 0]); // the 1 px gaps between cells stay clear
      expect([r.role, r.tabIndex]).toEqual(['img', -1]);
      expect(r.label).toMatch(
        /^R_a per layer and head: 28 layers × 12 heads; highest layer \d+, head \d+: 1; lowest layer \d+, head \d+: 0$/,
      );
    }
  });

  it('a mouse click picks the cell under it; hovering names it; labels pick nothing', async () => {
    const m = await call<{ left: number; top: number; label: string; tabIndex: number }>('mount');
    expect(m.tabIndex).toBe(0);
    expect(m.label).toMatch(/^R_a, trained: 28 layers × 12 heads; highest/);
    await h.page.mouse.move(m.left + L + 5 * C + 9, m.top + T + 3 * C + 9);
    expect((await call<any>('state')).title).toMatch(/^layer 3, head 5: \d/);
    await h.page.mouse.click(m.left + L + 5 * C + 9, m.top + T + 3 * C + 9);
    await h.page.mouse.click(m.left + L + 11 * C + 2, m.top + T + 27 * C + 2);
    await h.page.mouse.click(m.left + 5, m.top + T + 9);
    expect((await call<any>('state')).picks).toEqual([
      [3, 5],
      [27, 11],
    ]);
  });

  it('keyboard: arrow keys move a cursor (named in the label), Enter and Space pick it, blur clears it', async () => {
    const m = await call<{ left: number; top: number }>('mount');
    await h.page.keyboard.press('Tab');
    expect((await call<any>('state')).focused).toBe(true);
    await h.page.keyboard.press('ArrowDown');
    await h.page.keyboard.press('ArrowRight');
    expect((await call<any>('state')).label).toMatch(/^layer 1, head 1: \d.*Enter shows this head/);
    await h.page.keyboard.press('Enter');
    await h.page.keyboard.press('ArrowLeft');
    await h.page.keyboard.press('ArrowLeft');
    await h.page.keyboard.press(' ');
    expect((await call<any>('state')).picks).toEqual([
      [1, 1],
      [1, 0],
    ]);
    await h.page.mouse.click(m.left + 600, m.top + 5);
    expect((await call<any>('state')).label).toMatch(/^R_a, trained: 28 layers/);
  });

  it('a redraw with the same shape keeps the canvas, draws what a fresh one draws and uses the new handler', async () => {
    const m = await call<{ left: number; top: number }>('mount');
    const r = await call<any>('redraw');
    expect(r).toEqual({ same: true, inDocument: true, differ: 0, otherShape: true });
    for (const pr of [1, 2]) {
      const p = await call<{ same: boolean; differ: number; inked: number }>('inPlace', pr);
      expect({ pr, same: p.same, differ: p.differ }).toEqual({ pr, same: true, differ: 0 });
      expect(p.inked).toBeGreaterThan(100);
    }
    await h.page.mouse.click(m.left + L + 2 * C + 9, m.top + T + 9);
    expect((await call<any>('state')).picks).toEqual([['again', 0, 2]]);
  });
});
