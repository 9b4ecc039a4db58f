/** @file Unit and property tests of src/core/geometry.ts (smart_resize, grid, box → tokens, coverage, cell rects). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Box,
  type Grid,
  GeometryError,
  boxToTokens,
  cellCoverage,
  cellRect,
  clipBox,
  gridFor,
  gridFromThw,
  smartResize,
  tokenAt,
} from './geometry.ts';

const QWEN2 = { patch_size: 14, merge_size: 2, min_pixels: 3136, max_pixels: 200704 };
const QWEN3 = { patch_size: 16, merge_size: 2, min_pixels: 4096, max_pixels: 16777216 };

/** A grid built by hand (no smart_resize), for box tests with easy numbers. */
function handGrid(rows: number, cols: number, cell: number, image = { width: cols * cell, height: rows * cell }): Grid {
  return { rows, cols, cell, resized: { width: cols * cell, height: rows * cell }, image };
}

describe('smartResize', () => {
  it('rounds both sides to the factor when the area is within bounds', () => {
    expect(smartResize(480, 640, 28, 3136, 12845056)).toEqual({ height: 476, width: 644 });
  });
  it('rounds halves up like Math.round (70/28 = 2.5 → 3 cells)', () => {
    expect(smartResize(70, 70, 28, 0, 1e9)).toEqual({ height: 84, width: 84 });
  });
  it('scales down to fit max_pixels with floor', () => {
    expect(smartResize(480, 640, 28, 3136, 200704)).toEqual({ height: 364, width: 504 });
  });
  it('scales up to reach min_pixels with ceil', () => {
    expect(smartResize(30, 40, 28, 200704, 1e9)).toEqual({ height: 392, width: 532 });
  });
  it('scales images smaller than one cell up first', () => {
    expect(smartResize(13, 900, 28, 3136, 12845056)).toEqual({ height: 28, width: 1932 });
  });
  it('uses factor 32 for Qwen3-VL', () => {
    const g = gridFor({ width: 1000, height: 700 }, QWEN3);
    expect(g.cell).toBe(32);
    expect(g.resized).toEqual({ width: 992, height: 704 });
    expect([g.rows, g.cols]).toEqual([22, 31]);
  });
  it('rejects an aspect ratio above 200 and accepts exactly 200', () => {
    expect(() => smartResize(10, 2010, 28, 3136, 1e9)).toThrow(GeometryError);
    expect(() => smartResize(28, 28 * 201, 28, 3136, 1e9)).toThrow(/aspect ratio must be at most 200/);
    expect(() => smartResize(28, 28 * 200, 28, 0, 1e9)).not.toThrow();
  });
  it('rejects non-positive sizes', () => {
    expect(() => smartResize(0, 10, 28, 0, 1e6)).toThrow(/image height must be a positive number/);
    expect(() => gridFor({ width: 10, height: 10 }, { ...QWEN2, merge_size: 0 })).toThrow(/merge_size/);
  });
  it('property: sides are positive multiples of the factor; area ≤ max_pixels whenever downscaling was needed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20000 }),
        fc.integer({ min: 1, max: 20000 }),
        fc.constantFrom(28, 32),
        (h, w, f) => {
          fc.pre(Math.max(h, w) / Math.min(h, w) <= 150);
          const r = smartResize(h, w, f, f * f * 4, f * f * 1280);
          expect(r.height % f).toBe(0);
          expect(r.width % f).toBe(0);
          expect(r.height).toBeGreaterThanOrEqual(f);
          expect(r.width).toBeGreaterThanOrEqual(f);
          if (r.height > f && r.width > f) expect(r.height * r.width).toBeLessThanOrEqual(f * f * 1280);
        },
      ),
    );
  });
});

describe('gridFromThw', () => {
  it('builds the grid from image_grid_thw and rejects sizes that are not multiples of merge_size', () => {
    expect(gridFromThw({ width: 640, height: 480 }, [1, 26, 36], QWEN2)).toEqual(
      gridFor({ width: 640, height: 480 }, QWEN2),
    );
    expect(() => gridFromThw({ width: 640, height: 480 }, [1, 25, 36], QWEN2)).toThrow(
      /not a positive multiple of merge_size 2/,
    );
  });
});

describe('boxToTokens', () => {
  const g = handGrid(4, 5, 10);
  it('maps a box to the cells it overlaps with positive area (edges touching do not count)', () => {
    expect(Array.from(boxToTokens([[10, 10, 20, 20]], g))).toEqual([6]);
    expect(Array.from(boxToTokens([[9.5, 10, 20.5, 20]], g))).toEqual([5, 6, 7]);
  });
  it('unites several boxes, sorted, without duplicates', () => {
    expect(
      Array.from(
        boxToTokens(
          [
            [30, 30, 50, 40],
            [0, 0, 10, 10],
            [35, 30, 45, 40],
          ],
          g,
        ),
      ),
    ).toEqual([0, 18, 19]);
  });
  it('clips a box partly outside the image', () => {
    expect(Array.from(boxToTokens([[-100, -100, 5, 5]], g))).toEqual([0]);
    expect(Array.from(boxToTokens([[45, 35, 1000, 1000]], g))).toEqual([19]);
  });
  it('names the box that has zero area or lies wholly outside', () => {
    expect(() =>
      boxToTokens(
        [
          [0, 0, 10, 10],
          [5, 5, 5, 20],
        ],
        g,
      ),
    ).toThrow(/box 1 \[5, 5, 5, 20\]: zero area/);
    expect(() => boxToTokens([[60, 0, 70, 10]], g)).toThrow(
      /box \[60, 0, 70, 10\]: lies wholly outside the 50×40 image/,
    );
    expect(() => boxToTokens([[0, 0, Number.NaN, 10]], g)).toThrow(GeometryError);
    expect(() => boxToTokens([[10, 0, 0, 10]], g)).toThrow(/x1 ≤ x2/);
  });
  it('scales from original to resized pixels', () => {
    const scaled = handGrid(2, 2, 28, { width: 100, height: 200 });
    expect(Array.from(boxToTokens([[0, 0, 40, 80]], scaled))).toEqual([0]);
    expect(Array.from(boxToTokens([[0, 0, 60, 80]], scaled))).toEqual([0, 1]);
    expect(Array.from(boxToTokens([[0, 0, 60, 120]], scaled))).toEqual([0, 1, 2, 3]);
  });
  it('a box covering the whole image selects every token', () => {
    const real = gridFor({ width: 640, height: 480 }, QWEN2);
    expect(boxToTokens([[0, 0, 640, 480]], real).length).toBe(real.rows * real.cols);
  });
});

/** Arbitrary image size plus a box somewhere around it (possibly partly outside). */
const imageAndBox = fc
  .record({ width: fc.integer({ min: 20, max: 3000 }), height: fc.integer({ min: 20, max: 3000 }) })
  .chain((image) =>
    fc
      .tuple(
        fc.double({ min: -0.2, max: 0.9, noNaN: true }),
        fc.double({ min: -0.2, max: 0.9, noNaN: true }),
        fc.double({ min: 0.01, max: 0.8, noNaN: true }),
        fc.double({ min: 0.01, max: 0.8, noNaN: true }),
      )
      .map(([fx, fy, fw, fh]) => {
        const x1 = fx * image.width;
        const y1 = fy * image.height;
        const box: Box = [x1, y1, x1 + Math.max(1, fw * image.width), y1 + Math.max(1, fh * image.height)];
        return { image, box };
      }),
  );

describe('geometry properties', () => {
  it('targets are exactly the cells with positive coverage; coverage lies in [0, 1]', () => {
    fc.assert(
      fc.property(imageAndBox, ({ image, box }) => {
        fc.pre(clipBox(box, image) !== null);
        const g = gridFor(image, QWEN2);
        const targets = new Set(boxToTokens([box], g));
        const cover = cellCoverage([box], g);
        for (let k = 0; k < cover.length; k++) {
          expect(cover[k]).toBeGreaterThanOrEqual(0);
          expect(cover[k]).toBeLessThanOrEqual(1);
          expect(cover[k] > 0).toBe(targets.has(k));
        }
      }),
    );
  });
  it('total coverage × cell area equals the scaled clipped box area', () => {
    fc.assert(
      fc.property(imageAndBox, ({ image, box }) => {
        const clipped = clipBox(box, image);
        fc.pre(clipped !== null);
        const g = gridFor(image, QWEN2);
        const cover = cellCoverage([box], g);
        const total = cover.reduce((s, c) => s + c, 0) * g.cell * g.cell;
        const [x1, y1, x2, y2] = clipped!;
        const area = ((x2 - x1) * (y2 - y1) * g.resized.width * g.resized.height) / (image.width * image.height);
        expect(Math.abs(total - area)).toBeLessThanOrEqual(1e-3 * Math.max(1, area));
      }),
    );
  });
  it('the union of boxes selects the union of their tokens; overlapping coverage is not double counted', () => {
    fc.assert(
      fc.property(imageAndBox, fc.double({ min: -0.3, max: 0.3, noNaN: true }), ({ image, box }, shift) => {
        const other: Box = [box[0] + shift * image.width, box[1], box[2] + shift * image.width, box[3]];
        fc.pre(clipBox(box, image) !== null && clipBox(other, image) !== null);
        const g = gridFor(image, QWEN2);
        const union = new Set([...boxToTokens([box], g), ...boxToTokens([other], g)]);
        expect(Array.from(boxToTokens([box, other], g))).toEqual([...union].sort((a, b) => a - b));
        const both = cellCoverage([box, other], g);
        const a = cellCoverage([box], g);
        const b = cellCoverage([other], g);
        for (let k = 0; k < both.length; k++) {
          expect(both[k]).toBeGreaterThanOrEqual(Math.max(a[k], b[k]) - 1e-6);
          expect(both[k]).toBeLessThanOrEqual(Math.min(1, a[k] + b[k]) + 1e-6);
        }
        expect(Array.from(cellCoverage([box, box], g))).toEqual(Array.from(a));
      }),
    );
  });
  it('clipping never changes the tokens of a box', () => {
    fc.assert(
      fc.property(imageAndBox, ({ image, box }) => {
        const clipped = clipBox(box, image);
        fc.pre(clipped !== null);
        const g = gridFor(image, QWEN2);
        expect(Array.from(boxToTokens([box], g))).toEqual(Array.from(boxToTokens([clipped!], g)));
      }),
    );
  });
});

describe('cellRect and tokenAt', () => {
  it('tile the original image exactly, and tokenAt inverts cellRect', () => {
    const g = gridFor({ width: 333, height: 517 }, QWEN2);
    let area = 0;
    for (let k = 0; k < g.rows * g.cols; k++) {
      const r = cellRect(k, g);
      area += r.width * r.height;
      expect(tokenAt(r.x + r.width / 2, r.y + r.height / 2, g)).toBe(k);
    }
    expect(area).toBeCloseTo(333 * 517, 6);
    const last = cellRect(g.rows * g.cols - 1, g);
    expect(last.x + last.width).toBeCloseTo(333, 9);
    expect(last.y + last.height).toBeCloseTo(517, 9);
    expect(tokenAt(-1, 0, g)).toBe(-1);
    expect(tokenAt(333, 0, g)).toBe(-1);
    expect(() => cellRect(g.rows * g.cols, g)).toThrow(RangeError);
  });
});
