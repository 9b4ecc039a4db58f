/**
 * Image checks: sides under one cell, aspect ratio above 200, and the downscale of huge images to the processor's
 * own resized size (SAYO-mini's preprocessor_config.json, read from the repo).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gridFor, type ProcessorGeometry } from '../../core/geometry.ts';
import { DEFAULT_PROCESSOR, DOWNSCALE_PIXELS, downscaleTarget, sizeProblem } from './loadImage.ts';

const MINI = JSON.parse(
  fs.readFileSync(path.resolve(import.meta.dirname, '../../../models/sayo-mini/preprocessor_config.json'), 'utf8'),
) as ProcessorGeometry;
/** One visual-token cell of the shipped checkpoint, read from its processor (never a constant of one family). */
const CELL = MINI.patch_size * MINI.merge_size;
const DEFAULT_CELL = DEFAULT_PROCESSOR.patch_size * DEFAULT_PROCESSOR.merge_size;

describe('sizeProblem', () => {
  it('accepts ordinary images, including exactly one cell per side', () => {
    expect(sizeProblem(316, 329, MINI)).toBeNull();
    expect(sizeProblem(CELL, CELL, MINI)).toBeNull();
    expect(sizeProblem(CELL, CELL * 200, MINI)).toBeNull();
  });
  it('rejects a side under one cell (patch_size × merge_size) with the size in the message', () => {
    expect(sizeProblem(CELL - 1, 400, MINI)).toMatch(new RegExp(`${CELL - 1}×400 px.*at least ${CELL} px`));
    expect(sizeProblem(400, CELL - 1, MINI)).toMatch(new RegExp(`400×${CELL - 1} px.*at least ${CELL} px`));
    expect(sizeProblem(400, 10, DEFAULT_PROCESSOR)).toMatch(new RegExp(`at least ${DEFAULT_CELL} px`));
  });
  it('rejects an aspect ratio above 200', () => {
    expect(sizeProblem(CELL * 201, CELL, MINI)).toMatch(/aspect ratio is 201:1.*at most 200:1/);
  });
});

describe('downscaleTarget', () => {
  it('keeps images up to the limit', () => {
    expect(downscaleTarget(4000, 4000, MINI)).toBeNull();
  });
  it('shrinks a 50-megapixel image to the processor size, within max_pixels, keeping the grid', () => {
    const t = downscaleTarget(8660, 5774, MINI)!;
    expect(8660 * 5774).toBeGreaterThan(DOWNSCALE_PIXELS);
    expect(t.width * t.height).toBeLessThanOrEqual(MINI.max_pixels);
    const before = gridFor({ width: 8660, height: 5774 }, MINI);
    const after = gridFor(t, MINI);
    expect([after.rows, after.cols]).toEqual([before.rows, before.cols]);
  });
});
