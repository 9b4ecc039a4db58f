/**
 * @file Trainer → TypeScript parity: the fixtures written by the Python trainer (fixtures/grid-cases.json,
 * fixtures/reward-cases.json) are reproduced by the core within 1e-6. A missing fixture fails, it is not skipped.
 */
import { describe, expect, it } from 'vitest';
import { runCaseText } from './case.ts';
import { GeometryError, gridFor } from './geometry.ts';
import {
  type GridFixture,
  type RewardFixture,
  PARITY_TOLERANCE,
  diffWithin,
  loadFixture,
} from '../../lab/testutils/parity.ts';

describe('fixtures/grid-cases.json', () => {
  it('every case: gridFor gives the same resized size and grid, or rejects the same sizes', () => {
    const cases = loadFixture<GridFixture>('grid-cases.json');
    let errors = 0;
    for (const c of cases) {
      const label = `${c.width}×${c.height} ${JSON.stringify(c.processor)}`;
      if (c.error !== undefined) {
        errors++;
        expect(() => gridFor(c, c.processor), `${label} (trainer: ${c.error})`).toThrow(GeometryError);
        continue;
      }
      const g = gridFor(c, c.processor);
      expect({ resized: g.resized, grid: { rows: g.rows, cols: g.cols } }, label).toEqual({
        resized: c.resized,
        grid: c.grid,
      });
    }
    expect(cases.length - errors, 'valid grid cases').toBeGreaterThan(0);
  });
});

describe('fixtures/reward-cases.json', () => {
  const cases = loadFixture<RewardFixture>('reward-cases.json');
  it.each(cases.map((c) => [c.name, c] as const))('%s: core output within 1e-6', (_name, c) => {
    const output = runCaseText(JSON.stringify(c.input));
    expect(diffWithin(c.expected, output, PARITY_TOLERANCE)).toEqual([]);
  });
});

describe('fixture loading', () => {
  it('fails loudly (no skip) when a fixture file is missing', () => {
    expect(() => loadFixture('no-such-cases.json')).toThrow(/no-such-cases\.json is missing: the trainer writes it/);
  });
});

describe('diffWithin', () => {
  it('reports differences beyond the tolerance, missing fields and length mismatches', () => {
    expect(diffWithin({ a: 1, b: [1, 2] }, { a: 1 + 5e-7, b: [1, 2], extra: 0 })).toEqual([]);
    expect(diffWithin({ a: 1 }, { a: 1 + 2e-6 })).toHaveLength(1);
    expect(diffWithin({ a: 1, b: [1] }, { b: [1, 2] })).toEqual(['$.a: missing', '$.b: expected 1 items, got 2']);
    expect(diffWithin({ a: 'x' }, { a: 'y' })).toHaveLength(1);
  });
});
