/**
 * @file The compare data across a box edit: the reward follows the boxes, while the maps, the shared scale, the
 * normalised values and the grid stay the same objects (so the heat layers are not redrawn); a new token, head or
 * normalisation gives new ones.
 */
import { describe, expect, it } from 'vitest';
import { makeSession } from '../../../lab/testutils/session.ts';
import type { Box } from '../../core/geometry.ts';
import { compareFrom, panelStatic } from './useCompare.ts';

const session = makeSession({
  rows: 6,
  cols: 8,
  width: 224,
  height: 168,
  layers: [0, 1, 2],
  heads: 3,
  tokens: 6,
  seed: 5,
});
const [base, trained] = session.panels;
const statics = (boxes: Box[]) => ({
  base: panelStatic(base, 'base', boxes, 2, 'produced'),
  trained: panelStatic(trained, 'trained', boxes, 2, 'produced'),
});

describe('compareFrom across a box edit', () => {
  it('keeps the scale, values and grid of the previous data while only the boxes change', () => {
    const first = compareFrom(statics([[10, 20, 60, 70]]), 'all', { kind: 'mean' }, 'shared');
    const moved = compareFrom(statics([[66, 48, 130, 110]]), 'all', { kind: 'mean' }, 'shared', first);
    expect(moved.scale).toBe(first.scale);
    for (const side of ['base', 'trained'] as const) {
      expect(moved.panels[side]!.values).toBe(first.panels[side]!.values);
      expect(moved.panels[side]!.map).toBe(first.panels[side]!.map);
      expect(moved.panels[side]!.grid).toBe(first.panels[side]!.grid);
      expect(moved.panels[side]!.reward!.r_v).not.toBe(first.panels[side]!.reward!.r_v);
      expect(moved.panels[side]!.coverage).not.toEqual(first.panels[side]!.coverage);
    }
    // The same figures as computed afresh.
    const fresh = compareFrom(statics([[66, 48, 130, 110]]), 'all', { kind: 'mean' }, 'shared');
    expect(fresh.scale).toEqual(moved.scale);
    expect(fresh.panels.base!.values).toEqual(moved.panels.base!.values);
  });

  it('computes a new scale and values for another token, head or normalisation', () => {
    const boxes: Box[] = [[10, 20, 60, 70]];
    const first = compareFrom(statics(boxes), 'all', { kind: 'mean' }, 'shared');
    const token = compareFrom(statics(boxes), 2, { kind: 'mean' }, 'shared', first);
    const head = compareFrom(statics(boxes), 'all', { kind: 'head', head: 1 }, 'shared', first);
    const norm = compareFrom(statics(boxes), 'all', { kind: 'mean' }, 'image', first);
    for (const next of [token, head, norm]) {
      expect(next.scale).not.toBe(first.scale);
      expect(next.panels.base!.values).not.toBe(first.panels.base!.values);
    }
    expect(norm.scale!.mode).toBe('image');
    // Only one panel shown: not the two-panel data of before.
    const one = compareFrom({ base: statics(boxes).base }, 'all', { kind: 'mean' }, 'shared', first);
    expect(one.scale).not.toBe(first.scale);
    expect(one.panels.trained).toBeUndefined();
  });
});
