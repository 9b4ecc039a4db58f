/**
 * @file RewardCache (src/core/cache.ts) gives the same reward as computeReward on the raw attention, at every layer of
 * a multi-layer capture and under both alignments, and the same layers × heads R_a matrix as scoring each head's own
 * a and v from the raw attention.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RewardCache } from './cache.ts';
import { ALIGNMENTS, computeReward, scoreRa, tokenAV } from './reward.ts';

/** Random captures of T tokens × L layers × H heads × n image tokens, entropies, targets and a token subset. */
const captures = fc
  .record({
    L: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 20 }),
    T: fc.integer({ min: 2, max: 8 }),
  })
  .chain(({ L, H, n, T }) =>
    fc.record({
      L: fc.constant(L),
      H: fc.constant(H),
      n: fc.constant(n),
      tokens: fc.array(fc.float32Array({ minLength: L * H * n, maxLength: L * H * n, min: 0, max: 1, noNaN: true }), {
        minLength: T,
        maxLength: T,
      }),
      entropy: fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: T, maxLength: T }),
      targets: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }),
      subset: fc.uniqueArray(fc.integer({ min: 0, max: T - 1 }), { minLength: 1, maxLength: T }),
      alignment: fc.constantFrom(...ALIGNMENTS),
    }),
  );

describe('RewardCache', () => {
  it('property: equals computeReward for any attention, targets and entropy', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            heads: fc.integer({ min: 1, max: 4 }),
            n: fc.integer({ min: 1, max: 30 }),
            T: fc.integer({ min: 1, max: 12 }),
          })
          .chain(({ heads, n, T }) =>
            fc.record({
              heads: fc.constant(heads),
              n: fc.constant(n),
              tokens: fc.array(
                fc.float32Array({ minLength: heads * n, maxLength: heads * n, min: 0, max: 1, noNaN: true }),
                { minLength: T, maxLength: T },
              ),
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

  it('property: a multi-layer cache gives computeReward of each layer, under both alignments', () => {
    fc.assert(
      fc.property(captures, ({ L, H, n, tokens, entropy, targets, alignment }) => {
        const t = Int32Array.from([...targets].sort((a, b) => a - b));
        const cache = new RewardCache(n, L);
        for (const tok of tokens) cache.add(tok, H);
        for (let li = 0; li < L; li++) {
          const fast = cache.reward(t, entropy, { layer: li, alignment });
          const slow = computeReward({
            tokens: tokens.map((x) => x.subarray(li * H * n, (li + 1) * H * n)),
            heads: H,
            n,
            targets: t,
            entropy,
            alignment,
          });
          expect(fast.perToken).toHaveLength(alignment === 'input' ? tokens.length - 1 : tokens.length);
          expect(fast.selected).toEqual(slow.selected);
          fast.perToken.forEach((p, i) => expect(p.R_a).toBeCloseTo(slow.perToken[i].R_a, 9));
          expect(fast.a_q).toBeCloseTo(slow.a_q, 12);
          expect(fast.v_q).toBeCloseTo(slow.v_q, 12);
          expect(fast.r_v).toBeCloseTo(slow.r_v, 9);
        }
      }),
    );
  });

  it("property: headRa equals scoreRa of each head's a and v averaged over the rows of the tokens, while tokens stream in", () => {
    fc.assert(
      fc.property(captures, ({ L, H, n, tokens, targets, subset, alignment }) => {
        const t = Int32Array.from([...targets].sort((a, b) => a - b));
        const cache = new RewardCache(n, L);
        const reference = (count: number, picked: number[]) => {
          const rows = picked.map((i) => (alignment === 'input' ? i + 1 : i)).filter((r) => r < count);
          return Array.from({ length: L * H }, (_, i) => {
            let a = 0;
            let v = 0;
            for (const r of rows) {
              const av = tokenAV(tokens[r], 1, n, t, i * n);
              a += av.a;
              v += av.v;
            }
            return scoreRa(a / rows.length, v / rows.length);
          });
        };
        // The sum over all tokens is built on first use and kept current by later adds.
        cache.add(tokens[0], H);
        cache.add(tokens[1], H);
        cache.headRa(t, [0, 1]);
        for (const tok of tokens.slice(2)) cache.add(tok, H);
        const all = tokens.map((_, i) => i);
        const sets = [all, subset, [subset[0]]].filter(
          (s) => alignment === 'produced' || s.some((i) => i + 1 < tokens.length),
        );
        for (const set of sets) {
          const got = cache.headRa(t, set, { alignment });
          reference(tokens.length, set).forEach((r, i) => expect(got[i]).toBeCloseTo(r, 9));
        }
      }),
    );
  });

  it('headRa explains what is missing', () => {
    const cache = new RewardCache(2, 2);
    cache.add(Float32Array.from([0.5, 0.5, 0.25, 0.75]), 1);
    expect(Array.from(cache.headRa(Int32Array.from([1]), [0]))).toEqual([scoreRa(0.5, 0.5), scoreRa(0.75, 0.5)]);
    expect(() => cache.headRa(Int32Array.from([1]), [])).toThrow(/no token to build the head matrix from/);
    expect(() => cache.headRa(Int32Array.from([1]), [1])).toThrow(/token 1 does not exist \(1 tokens\)/);
    expect(() => cache.headRa(Int32Array.from([1]), [0], { alignment: 'input' })).toThrow(
      /no attention row for these tokens under the input alignment/,
    );
    expect(() => cache.headRa(Int32Array.from([2]), [0])).toThrow(/outside 0…1/);
    expect(() => cache.add(Float32Array.from([1, 2, 3, 4]), 2)).toThrow(/2 heads, the cache 1/);
    expect(() => cache.map(0, 2)).toThrow(/layer position 2 is outside 0…1/);
  });
});
