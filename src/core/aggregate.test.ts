/** @file Tests of src/core/aggregate.ts: head modes, layer pick, token means, normalisation, image share, entropy. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  argmax,
  entropyFromLogits,
  headMap,
  imageShare,
  mapMax,
  meanMaps,
  normalizeMap,
  rowImageShare,
  sharedMax,
} from './aggregate.ts';

// layers [3, 7], heads 2, n 3: attention[(l·heads + h)·n + k]
const STEP = Float32Array.from([
  0.1, 0.2, 0.3, /* L3 h1 */ 0.3, 0.0, 0.5, /* L7 h0 */ 0.6, 0.2, 0.0, /* L7 h1 */ 0.2, 0.4, 0.2,
]);

describe('headMap', () => {
  it('picks the layer by its number and combines heads', () => {
    expect(Array.from(headMap(STEP, [3, 7], 2, 3, 7, { kind: 'mean' }))).toEqual(
      Array.from(Float32Array.from([0.4, 0.3, 0.1])),
    );
    expect(Array.from(headMap(STEP, [3, 7], 2, 3, 3, { kind: 'max' }))).toEqual(
      Array.from(Float32Array.from([0.3, 0.2, 0.5])),
    );
    expect(Array.from(headMap(STEP, [3, 7], 2, 3, 7, { kind: 'head', head: 1 }))).toEqual(
      Array.from(Float32Array.from([0.2, 0.4, 0.2])),
    );
  });
  it('says what is wrong', () => {
    expect(() => headMap(STEP, [3, 7], 2, 3, 5, { kind: 'mean' })).toThrow(
      /layer 5 was not captured \(captured: 3, 7\)/,
    );
    expect(() => headMap(STEP, [3, 7], 2, 3, 7, { kind: 'head', head: 2 })).toThrow(/head 2 does not exist/);
    expect(() => headMap(STEP.subarray(0, 6), [3, 7], 2, 3, 3, { kind: 'mean' })).toThrow(
      /expected layers·heads·n = 12/,
    );
  });
  it('property: mean ≤ max, and permuting heads leaves mean and max unchanged', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }).chain((heads) =>
          fc.record({
            heads: fc.constant(heads),
            rows: fc.array(fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }), {
              minLength: heads,
              maxLength: heads,
            }),
            perm: fc.shuffledSubarray([...Array(heads).keys()], { minLength: heads, maxLength: heads }),
          }),
        ),
        ({ heads, rows, perm }) => {
          const att = Float32Array.from(rows.flat());
          const permuted = Float32Array.from(perm.flatMap((h) => rows[h]));
          const mean = headMap(att, [0], heads, 7, 0, { kind: 'mean' });
          const max = headMap(att, [0], heads, 7, 0, { kind: 'max' });
          for (let k = 0; k < 7; k++) expect(mean[k]).toBeLessThanOrEqual(max[k] + 1e-7);
          const pm = headMap(permuted, [0], heads, 7, 0, { kind: 'mean' });
          for (let k = 0; k < 7; k++) expect(pm[k]).toBeCloseTo(mean[k], 6);
          expect(Array.from(headMap(permuted, [0], heads, 7, 0, { kind: 'max' }))).toEqual(Array.from(max));
        },
      ),
    );
  });
});

describe('meanMaps', () => {
  const maps = [Float32Array.from([1, 0]), Float32Array.from([0, 1]), Float32Array.from([0.5, 0.5])];
  it('averages all maps or only the selected ones', () => {
    expect(Array.from(meanMaps(maps))).toEqual([0.5, 0.5]);
    expect(Array.from(meanMaps(maps, [0, 2]))).toEqual([0.75, 0.25]);
  });
  it('rejects nothing to average, bad indices and ragged maps', () => {
    expect(() => meanMaps([])).toThrow(/no map to average/);
    expect(() => meanMaps(maps, [3])).toThrow(/map 3 does not exist/);
    expect(() => meanMaps([...maps, Float32Array.from([1])])).toThrow(/map 3 has 1 values, expected 2/);
  });
});

describe('normalizeMap', () => {
  const map = Float32Array.from([0.1, 0.3, 0.1]);
  it('raw keeps values; image sums to 1; shared divides by the shared max', () => {
    expect(normalizeMap(map, 'raw')).toEqual({ values: map, max: map[1] });
    const img = normalizeMap(map, 'image');
    expect(img.values.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    expect(img.max).toBeCloseTo(0.6, 6);
    const other = Float32Array.from([0.6, 0, 0]);
    const shared = normalizeMap(map, 'shared', sharedMax([map, other]));
    expect(shared.max).toBeCloseTo(0.6, 6);
    expect(shared.values[1]).toBeCloseTo(0.5, 6);
    expect(mapMax(normalizeMap(other, 'shared', sharedMax([map, other])).values)).toBe(1);
  });
  it('an all-zero map stays zero in every mode (never NaN)', () => {
    const zero = new Float32Array(4);
    for (const mode of ['raw', 'image', 'shared'] as const) {
      const { values, max } = normalizeMap(zero, mode);
      expect(Array.from(values)).toEqual([0, 0, 0, 0]);
      expect(max).toBe(0);
    }
  });
});

describe('image share', () => {
  it('is the image slice over the row sum', () => {
    expect(rowImageShare([0.1, 0.2, 0.3, 0.4], 1, 2)).toBeCloseTo(0.5, 12);
    expect(rowImageShare([0, 0, 0], 0, 2)).toBe(0);
    expect(() => rowImageShare([1, 2], 1, 2)).toThrow(/exceeds the row/);
  });
  it('combines per-(layer, head) shares like headMap', () => {
    const shares = Float32Array.from([0.9, 0.7, /* layer 5 */ 0.2, 0.4]);
    expect(imageShare(shares, [1, 5], 2, 5)).toBeCloseTo(0.3, 6);
    expect(imageShare(shares, [1, 5], 2, 1, { kind: 'max' })).toBeCloseTo(0.9, 6);
  });
});

describe('entropyFromLogits', () => {
  it('is log V for equal logits, 0 for a one-hot limit, and handles masked (−∞) logits', () => {
    expect(entropyFromLogits(new Float32Array(8).fill(3))).toBeCloseTo(Math.log(8), 12);
    expect(entropyFromLogits(Float32Array.from([1000, 0, 0]))).toBeCloseTo(0, 12);
    expect(entropyFromLogits(Float32Array.from([0, 0, -Infinity]))).toBeCloseTo(Math.log(2), 12);
  });
  it('matches the direct definition and grows with temperature', () => {
    const logits = Float32Array.from([2, 1, 0.5, -1]);
    const z = Array.from(logits, (l) => Math.exp(l));
    const s = z.reduce((a, b) => a + b, 0);
    const direct = -z.reduce((h, e) => h + (e / s) * Math.log(e / s), 0);
    expect(entropyFromLogits(logits)).toBeCloseTo(direct, 12);
    expect(entropyFromLogits(logits, 2)).toBeGreaterThan(entropyFromLogits(logits, 1));
    expect(() => entropyFromLogits(logits, 0)).toThrow(/temperature must be > 0/);
  });
});

describe('argmax', () => {
  it('returns the first largest index', () => {
    expect(argmax([0.1, 0.5, 0.5, 0.2])).toBe(1);
    expect(argmax([])).toBe(-1);
  });
});
