/**
 * @file Heatmap drawing plan: the grid from the core's geometry mapped back onto the original image in device
 * pixels (cells tile the canvas with no gaps or overlaps for any image size), exact colours through `colorFor`,
 * covered cells and boxes; and the plan cost for a 1,300-cell grid, measured in Node.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cellCoverage, gridFor, type ProcessorGeometry } from '../../core/geometry.ts';
import { heatmapLayout, heatmapPlan, heatmapRegionsPlan } from './heatmap.ts';
import { colorFor, sharedScale } from './scale.ts';

const QWEN2: ProcessorGeometry = { patch_size: 14, merge_size: 2, min_pixels: 56 * 56, max_pixels: 28 * 28 * 1300 };

describe('heatmapLayout', () => {
  it('maps a non-square grid back to the original image: 1000×333 px → 36×12 cells over 500×167 device px', () => {
    const grid = gridFor({ width: 1000, height: 333 }, QWEN2);
    expect([grid.rows, grid.cols]).toEqual([12, 36]);
    const layout = heatmapLayout(grid, 500);
    expect([layout.width, layout.height]).toEqual([500, 167]);
    // the grid spans the whole image, so edge c sits at c/cols of the width (rounded)
    expect(Array.from(layout.colEdges)).toEqual(Array.from({ length: 37 }, (_, c) => Math.round((c * 500) / 36)));
    expect(Array.from(layout.rowEdges)).toEqual(Array.from({ length: 13 }, (_, r) => Math.round((r * 167) / 12)));
  });

  it('is memoised per grid, width and pixel ratio', () => {
    const grid = gridFor({ width: 640, height: 480 }, QWEN2);
    expect(heatmapLayout(grid, 300)).toBe(heatmapLayout(grid, 300));
    expect(heatmapLayout(grid, 300, 2)).not.toBe(heatmapLayout(grid, 300));
    expect(heatmapLayout(grid, 300, 2).width).toBe(600);
  });

  it('rejects a non-positive width', () => {
    const grid = gridFor({ width: 64, height: 64 }, QWEN2);
    expect(() => heatmapLayout(grid, 0)).toThrow(RangeError);
  });
});

describe('heatmapPlan', () => {
  it('cells tile the canvas exactly (no gap, no overlap) for any image size and width', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 28, max: 3000 }),
        fc.integer({ min: 28, max: 3000 }),
        fc.integer({ min: 40, max: 400 }),
        fc.constantFrom(1, 1.5, 2),
        (w, h, width, pr) => {
          fc.pre(Math.max(w, h) / Math.min(w, h) <= 200);
          const grid = gridFor({ width: w, height: h }, QWEN2);
          const n = grid.rows * grid.cols;
          const plan = heatmapPlan(
            { grid, values: new Float32Array(n) },
            { scale: sharedScale([], 'raw'), width, pixelRatio: pr },
          );
          const { width: W, height: H } = plan.layout;
          const hits = new Uint8Array(W * H);
          for (const c of plan.cells)
            for (let y = c.y; y < c.y + c.h; y++) for (let x = c.x; x < c.x + c.w; x++) hits[y * W + x]++;
          expect(hits.every((v) => v === 1)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('colours every cell through colorFor on the shared scale, in raster order', () => {
    const grid = gridFor({ width: 120, height: 90 }, QWEN2);
    const n = grid.rows * grid.cols;
    const values = Float32Array.from({ length: n }, (_, k) => k / (n - 1));
    const scale = sharedScale([values], 'raw');
    const plan = heatmapPlan({ grid, values }, { scale, width: 120, opacity: 0.4 });
    expect(plan.opacity).toBe(0.4);
    expect(plan.cells.map((c) => c.k)).toEqual(Array.from({ length: n }, (_, k) => k));
    plan.cells.forEach((c) => expect(c.rgb).toEqual(colorFor(values[c.k], scale)));
    expect(plan.cells[0].rgb).not.toEqual(plan.cells[n - 1].rgb);
  });

  it('gives the exact plan for a small grid (snapshot of rects and colours)', () => {
    const grid = gridFor({ width: 120, height: 90 }, QWEN2); // resized 112×84 → 3×4 cells
    const values = new Float32Array([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 0.5]);
    const boxes: [number, number, number, number][] = [[10, 20, 60, 70]];
    const plan = heatmapPlan(
      { grid, values, boxes, coverage: cellCoverage(boxes, grid) },
      { scale: sharedScale([values], 'raw', 'viridis'), width: 240 },
    );
    expect(plan).toMatchSnapshot();
  });

  it('outlines the covered cells (alpha grows with coverage) and maps boxes to device pixels, clipped', () => {
    const grid = gridFor({ width: 280, height: 280 }, QWEN2); // 10×10 cells of 28 px
    const boxes: [number, number, number, number][] = [
      [28, 28, 70, 56],
      [250, -10, 400, 14],
    ];
    const coverage = cellCoverage(boxes, grid);
    const plan = heatmapPlan(
      { grid, values: new Float32Array(100), boxes, coverage },
      { scale: sharedScale([], 'raw'), width: 140 },
    );
    expect(plan.covered.map((c) => c.k)).toEqual([8, 9, 11, 12]);
    const alpha = Object.fromEntries(plan.covered.map((c) => [c.k, c.alpha]));
    expect(alpha[11]).toBeCloseTo(1, 6);
    expect(alpha[12]).toBeCloseTo(0.35 + 0.65 * (14 / 28), 6);
    expect(plan.boxes).toEqual([
      { x: 14, y: 14, w: 21, h: 14 },
      { x: 125, y: 0, w: 15, h: 7 },
    ]);
  });

  it('plans the regions alone exactly as the whole heatmap plans them (the overlay a box edit redraws)', () => {
    const grid = gridFor({ width: 1400, height: 728 }, QWEN2);
    const boxes: [number, number, number, number][] = [
      [300, 150, 700, 450],
      [1300, 700, 1500, 800],
    ];
    const coverage = cellCoverage(boxes, grid);
    for (const [width, pixelRatio] of [
      [700, 2],
      [421, 1.25],
    ]) {
      const whole = heatmapPlan(
        { grid, values: new Float32Array(grid.rows * grid.cols), boxes, coverage },
        { scale: sharedScale([], 'raw'), width, pixelRatio },
      );
      const regions = heatmapRegionsPlan({ grid, boxes, coverage }, { width, pixelRatio });
      expect(regions.layout).toBe(whole.layout);
      expect(regions.covered).toEqual(whole.covered);
      expect(regions.boxes).toEqual(whole.boxes);
      expect(regions.covered.length).toBeGreaterThan(0);
    }
    expect(heatmapRegionsPlan({ grid }, { width: 300 })).toMatchObject({ covered: [], boxes: [] });
    expect(() => heatmapRegionsPlan({ grid, coverage: new Float32Array(3) }, { width: 300 })).toThrow(
      /coverage holds 3/,
    );
  });

  it('rejects values or coverage of the wrong length with a clear message', () => {
    const grid = gridFor({ width: 120, height: 90 }, QWEN2);
    const scale = sharedScale([], 'raw');
    expect(() => heatmapPlan({ grid, values: new Float32Array(11) }, { scale, width: 100 })).toThrow(
      /hold 11 entries, the 3×4 grid has 12/,
    );
    expect(() =>
      heatmapPlan({ grid, values: new Float32Array(12), coverage: new Float32Array(3) }, { scale, width: 100 }),
    ).toThrow(/coverage holds 3/);
  });

  it('plans a 1,300-cell redraw well within a 16 ms frame (measured in Node)', () => {
    const grid = gridFor({ width: 1400, height: 728 }, QWEN2); // 26 × 50 = 1,300 cells
    expect(grid.rows * grid.cols).toBe(1300);
    const values = Float32Array.from({ length: 1300 }, (_, k) => ((k * 7919) % 1300) / 1300);
    const scale = sharedScale([values], 'raw');
    const times: number[] = [];
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      heatmapPlan({ grid, values }, { scale, width: 700, pixelRatio: 2 });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[30];
    console.info(
      `heatmapPlan 1,300 cells: median ${median.toFixed(3)} ms, max ${times[59].toFixed(3)} ms over 60 runs`,
    );
    expect(median).toBeLessThan(4);
  });
});
