/**
 * Box edits of the region editor (pure): normalise, move and resize stay inside the image and keep boxes valid.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Box } from '../../core/geometry.ts';
import { moveBox, normalizeBox, resizeBox } from './input.ts';

const IMG = { width: 300, height: 200 };
const inside = (b: Box) =>
  b[0] >= 0 && b[1] >= 0 && b[2] <= IMG.width && b[3] <= IMG.height && b[0] <= b[2] && b[1] <= b[3];

describe('box edits', () => {
  it('normalises a box drawn right-to-left and clamps it', () => {
    expect(normalizeBox([120, 90, -5, 10], IMG)).toEqual([0, 10, 120, 90]);
  });
  it('moves a box, stopping at the image edge with its size kept', () => {
    expect(moveBox([10, 10, 60, 40], 500, -500, IMG)).toEqual([250, 0, 300, 30]);
  });
  it('resizes from the bottom-right corner, at least 1 px', () => {
    expect(resizeBox([10, 10, 60, 40], -100, 500, IMG)).toEqual([10, 10, 11, 200]);
  });
  it('every edit keeps any box inside the image (property)', () => {
    const coord = fc.integer({ min: -400, max: 700 });
    fc.assert(
      fc.property(coord, coord, coord, coord, coord, coord, (a, b, c, d, dx, dy) => {
        const box = normalizeBox([a, b, c, d], IMG);
        expect(inside(box)).toBe(true);
        expect(inside(moveBox(box, dx, dy, IMG))).toBe(true);
        const r = resizeBox(box, dx, dy, IMG);
        expect(inside(r)).toBe(true);
      }),
    );
  });
});
