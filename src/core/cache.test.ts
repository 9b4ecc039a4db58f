/** @file RewardCache (src/core/cache.ts) gives the same reward as computeReward on the raw attention. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RewardCache } from './cache.ts';
import { computeReward } from './reward.ts';

describe('RewardCache', () => {
  it('property: equals computeReward for any attention, targets and entropy', () => {
    fc.assert(
      fc.property(
        fc.record({ heads: fc.integer({ min: 1, max: 4 }), n: fc.integer({ min: 1, max: 30 }), T: fc.integer({ min: 1, max: 12 }) }).chain(({ heads, n, T }) =>
          fc.record({
            heads: fc.constant(heads),
            n: fc.constant(n),
            tokens: fc.array(fc.float32Array({ minLength: heads * n, maxLength: heads * n, min: 0, max: 1, noNaN: true }), { minLength: T, maxLength: T }),
            entropy: fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: T, maxLength: T }),
            targets: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }),
          }),
        ),
        ({ heads, n, tokens, entropy, targets }) => {
          const t = Int32Array.from([...targets].sort((a, b) => a - b));
          const cache = new RewardCache(n);
          for (const tok of tokens) cache.add(tok, heads);
          const fast = cache.reward(t, entropy);
          const slow = computeReward({ tokens, heads, n, targets: t, entropy });
          expect(fast.selected).toEqual(slow.selected);
          fast.perToken.forEach((p, i) => {
            expect(p.a).toBeCloseTo(slow.perToken[i].a, 12);
            expect(p.v).toBeCloseTo(slow.perToken[i].v, 12);
            expect(p.R_a).toBeCloseTo(slow.perToken[i].R_a, 9);
          });
          expect(fast.r_v).toBeCloseTo(slow.r_v, 9);
        },
      ),
    );
  });
  it('reads one layer of a StepRecord through the offset and rejects bad use', () => {
    const cache = new RewardCache(2);
    cache.add(Float32Array.from([9, 9, 0.75, 0.25]), 1, 2);
    expect(cache.size).toBe(1);
    expect(Array.from(cache.map(0))).toEqual([0.75, 0.25]);
    expect(cache.av(Int32Array.from([0]))).toEqual([{ a: 0.75, v: 0.5 }]);
    expect(() => cache.add(Float32Array.from([1, 2, 3]), 1, 2)).toThrow(RangeError);
    expect(() => cache.av(Int32Array.from([2]))).toThrow(/outside 0…1/);
    expect(() => cache.map(1)).toThrow(/not cached/);
    expect(() => cache.reward(Int32Array.from([0]), [1, 2])).toThrow(/entropy has 2 values for 1 tokens/);
  });
});
