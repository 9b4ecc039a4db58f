/**
 * @file Head matrix maths and drawing plan (pure, in Node): R_a per (layer, head) from the panel cache against
 * scoreRa, the trained − base difference, the plan's cell rects / colours / labels / outlines, hit testing, keyboard
 * moves and the accessible summary. Its pixels and input in real Chromium: headMatrix.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { interpolateRdBu, rgb } from 'd3';
import {
  HEAD_MATRIX_DEFAULTS,
  headMatrixCellAt,
  headMatrixDiff,
  headMatrixMove,
  headMatrixPlan,
  headMatrixRa,
  headMatrixSummary,
} from './headMatrix.ts';
import { colorFor, divergingScale, sharedScale } from './scale.ts';
import { makeSession } from '../../../lab/testutils/session.ts';
import { scoreRa } from '../../core/reward.ts';
import { panelCache } from '../../state/derive.ts';
import type { StepRecord } from '../../engine/types.ts';

/** The head matrix of a panel's steps through the panel's cache, as HeadMatrixView reads it. */
const matrix = (steps: StepRecord[], targets: Int32Array, tokens: number[], alignment?: 'produced' | 'input') =>
  headMatrixRa(panelCache(steps)!, steps[0].layers, targets, tokens, alignment);

describe('headMatrixRa', () => {
  it("equals scoreRa of each head's own a / v for one token", () => {
    const s = makeSession({ layers: [0, 1], heads: 2, rows: 3, cols: 4 });
    const steps = s.panels[0].steps;
    const targets = new Int32Array([0, 5]);
    const m = matrix(steps, targets, [1]);
    expect([m.layers, m.heads]).toEqual([[0, 1], 2]);
    const att = steps[1].attention;
    for (let i = 0; i < 4; i++) {
      const row = att.subarray(i * 12, (i + 1) * 12);
      const a = (row[0] + row[5]) / 2;
      const v = row.reduce((x, y) => x + y, 0) / 12;
      expect(m.values[i]).toBeCloseTo(scoreRa(a, v), 6);
    }
    // Under the input alignment token 0 owns row 1.
    expect(Array.from(matrix(steps, targets, [0], 'input').values)).toEqual(Array.from(m.values));
  });

  it('averages a and v over several tokens before scoring', () => {
    const steps = makeSession().panels[1].steps;
    const targets = new Int32Array([3]);
    const one = [0, 1, 2].map((t) => matrix(steps, targets, [t]));
    const all = matrix(steps, targets, [0, 1, 2]);
    expect(all.values[0]).not.toBeCloseTo(one.reduce((s, m) => s + m.values[0], 0) / 3, 9);
    expect(all.values[0]).toBeGreaterThan(Math.min(...one.map((m) => m.values[0])));
    expect(all.values[0]).toBeLessThan(Math.max(...one.map((m) => m.values[0])));
  });

  it('explains missing tokens and mismatched layers', () => {
    const steps = makeSession().panels[0].steps;
    expect(() => matrix(steps, new Int32Array([0]), [])).toThrow(/no token/);
    expect(() => matrix(steps, new Int32Array([0]), [9])).toThrow(/token 9 does not exist/);
    expect(() => headMatrixRa(panelCache(steps)!, [0, 1, 2], new Int32Array([0]), [0])).toThrow(
      /3 layer ids for a capture of 2 layers/,
    );
    expect(panelCache(steps.map((s) => ({ ...s, attention: new Float32Array(0) })))).toBeNull();
  });
});

describe('headMatrixPlan', () => {
  const data = { values: new Float32Array([0.2, 0.5, 0.9, 0.4, 0.6, 0.7]), layers: [4, 7], heads: 3 };
  const scale = sharedScale([new Float32Array([1])], 'raw', 'viridis');

  it('lays out layers × heads cells with labels and the picked head outlined (snapshot)', () => {
    const plan = headMatrixPlan(data, { scale, picked: { layer: 7, head: 1 } });
    expect([plan.layout.width, plan.layout.height]).toEqual([34 + 3 * 18 + 2, 16 + 2 * 18 + 2]);
    expect(plan.cells.map((c) => [c.layer, c.head])).toEqual([
      [4, 0],
      [4, 1],
      [4, 2],
      [7, 0],
      [7, 1],
      [7, 2],
    ]);
    plan.cells.forEach((c, i) => expect(c.rgb).toEqual(colorFor(data.values[i], scale)));
    expect(plan.rowLabels.map((t) => t.text)).toEqual(['L4', 'L7']);
    expect(plan.colLabels.map((t) => t.text)).toEqual(['0', '1', '2']);
    expect([plan.picked, plan.cursor]).toEqual([4, -1]);
    expect(plan).toMatchSnapshot();
  });

  it('cells tile a 28 × 12 matrix on an 18 px pitch with a 1 px gap, and nothing is picked outside it', () => {
    const layers = Array.from({ length: 28 }, (_, l) => l);
    const values = Float32Array.from({ length: 336 }, (_, i) => i / 335);
    const plan = headMatrixPlan(
      { values, layers, heads: 12 },
      { scale, picked: { layer: 40, head: 0 }, cell: 18 },
      335,
    );
    expect(plan.cells).toHaveLength(336);
    expect(plan.cells[13]).toMatchObject({ layer: 1, head: 1, x: 34 + 18, y: 16 + 18, size: 17 });
    expect([plan.picked, plan.cursor]).toEqual([-1, 335]);
    expect(headMatrixPlan({ values, layers, heads: 12 }, { scale }, 336).cursor).toBe(-1);
  });

  it('rejects values of the wrong length', () => {
    expect(() => headMatrixPlan({ ...data, heads: 4 }, { scale })).toThrow(/6 values, expected 2 layers × 4 heads/);
  });
});

describe('head matrix input', () => {
  const layout = headMatrixPlan(
    { values: new Float32Array(6), layers: [4, 7], heads: 3 },
    { scale: sharedScale([], 'raw') },
  ).layout;
  const { left, top, cell } = HEAD_MATRIX_DEFAULTS;

  it('hit-tests CSS pixels to cells; labels and the margin hit nothing', () => {
    expect(headMatrixCellAt(layout, left + 1, top + 1)).toBe(0);
    expect(headMatrixCellAt(layout, left + cell + 5, top + cell + 5)).toBe(4);
    expect(headMatrixCellAt(layout, left + 3 * cell - 1, top + 2 * cell - 1)).toBe(5);
    expect(headMatrixCellAt(layout, left - 1, top + 5)).toBe(-1);
    expect(headMatrixCellAt(layout, left + 5, top - 1)).toBe(-1);
    expect(headMatrixCellAt(layout, left + 3 * cell, top + 5)).toBe(-1);
    expect(headMatrixCellAt(layout, left + 5, top + 2 * cell)).toBe(-1);
  });

  it('arrow keys move the cursor and stop at the edges; other keys do not move it', () => {
    expect(headMatrixMove(layout, 0, 'ArrowDown')).toBe(3);
    expect(headMatrixMove(layout, 3, 'ArrowRight')).toBe(4);
    expect(headMatrixMove(layout, 4, 'ArrowUp')).toBe(1);
    expect(headMatrixMove(layout, 1, 'ArrowLeft')).toBe(0);
    expect(headMatrixMove(layout, 0, 'ArrowLeft')).toBe(0);
    expect(headMatrixMove(layout, 5, 'ArrowDown')).toBe(5);
    expect(headMatrixMove(layout, 2, 'Tab')).toBeNull();
  });

  it('summarises the matrix in words: shape, highest and lowest cell', () => {
    const values = new Float32Array([0.2, 0.5, 0.9, Number.NaN, 0.6, 0.1]);
    expect(headMatrixSummary({ values, layers: [4, 7], heads: 3 }, 'R_a, base')).toBe(
      'R_a, base: 2 layers × 3 heads; highest layer 4, head 2: 0.9; lowest layer 7, head 2: 0.1',
    );
    expect(headMatrixSummary({ values: new Float32Array([Number.NaN]), layers: [0], heads: 1 }, 'R_a')).toBe(
      'R_a: 1 layers × 1 heads, no finite value',
    );
  });
});

describe('headMatrixDiff', () => {
  it('subtracts element-wise on a diverging scale centred on 0; shape mismatches are explained', () => {
    const data = { values: new Float32Array([0.2, 0.5, 0.9, 0.4, 0.6, 0.7]), layers: [4, 7], heads: 3 };
    const base = { ...data, values: new Float32Array(6).fill(0.5) };
    const diff = headMatrixDiff(data, base);
    expect(Array.from(diff.values).map((v) => Number(v.toFixed(6)))).toEqual([-0.3, 0, 0.4, -0.1, 0.1, 0.2]);
    const plan = headMatrixPlan(diff, { scale: divergingScale([diff.values as Float32Array]) });
    const mid = rgb(interpolateRdBu(0.5));
    expect(plan.cells[1].rgb).toEqual([mid.r, mid.g, mid.b]);
    expect(() => headMatrixDiff(data, { ...base, heads: 2 })).toThrow(/differ in shape/);
  });
});
