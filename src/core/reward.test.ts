/** @file Unit and property tests of src/core/reward.ts (a, v, R_a, entropy selection, r_v). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EPS,
  alignTokens,
  avFromMeanMap,
  computeReward,
  headMeanMap64,
  rewardFromAV,
  rewardRv,
  scoreRa,
  selectTopEntropy,
  selectionCount,
  targetRuns,
  tokenAV,
} from './reward.ts';

/** A random attention token (heads × n rows, each a probability vector over the image tokens times a share). */
const attentionToken = (heads: number, n: number) =>
  fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }), {
    minLength: heads,
    maxLength: heads,
  });

/** heads × n attention with a random non-empty target set. */
const scenario = fc
  .record({ heads: fc.integer({ min: 1, max: 6 }), n: fc.integer({ min: 1, max: 40 }) })
  .chain(({ heads, n }) =>
    fc.record({
      heads: fc.constant(heads),
      n: fc.constant(n),
      rows: attentionToken(heads, n),
      targets: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }),
    }),
  );

const flat = (rows: number[][]) => Float32Array.from(rows.flat());
const sortedTargets = (t: number[]) => Int32Array.from([...t].sort((a, b) => a - b));

describe('tokenAV', () => {
  it('computes head mean of target mean and of image mean', () => {
    const att = Float32Array.from([0.1, 0.2, 0.3, 0.4, /* head 1 */ 0.0, 0.0, 0.6, 0.2]);
    const { a, v } = tokenAV(att, 2, 4, Int32Array.from([2, 3]));
    expect(a).toBeCloseTo((0.35 + 0.4) / 2, 7);
    expect(v).toBeCloseTo((0.25 + 0.2) / 2, 7);
  });
  it('reads one layer of a StepRecord through the offset', () => {
    const att = Float32Array.from([9, 9, 9, 9, /* layer 1 */ 0.5, 0.1, 0.2, 0.2]);
    const { a, v } = tokenAV(att, 1, 4, Int32Array.from([0]), 4);
    expect(a).toBeCloseTo(0.5, 7);
    expect(v).toBeCloseTo(0.25, 7);
    expect(() => tokenAV(att, 1, 4, Int32Array.from([0]), 5)).toThrow(RangeError);
    expect(() => tokenAV(att, 1, 4, new Int32Array(0))).toThrow(/no target token/);
  });
  it('groups sorted targets into contiguous runs and rejects unsorted, duplicate or out-of-range ones', () => {
    expect(Array.from(targetRuns(Int32Array.from([1, 2, 3, 7, 9, 10]), 12))).toEqual([1, 4, 7, 8, 9, 11]);
    expect(() => targetRuns(Int32Array.from([3, 1]), 12)).toThrow(/sorted and unique/);
    expect(() => targetRuns(Int32Array.from([1, 1]), 12)).toThrow(/sorted and unique/);
    expect(() => targetRuns(Int32Array.from([12]), 12)).toThrow(/outside 0…11/);
  });
  it('matches a direct nested mean for any target set (property)', () => {
    fc.assert(
      fc.property(scenario, ({ heads, n, rows, targets }) => {
        const t = sortedTargets(targets);
        const { a, v } = tokenAV(flat(rows), heads, n, t);
        const f32 = rows.map((r) => Array.from(Float32Array.from(r)));
        const aDirect = f32.reduce((s, r) => s + t.reduce((u, k) => u + r[k], 0) / t.length, 0) / heads;
        const vDirect = f32.reduce((s, r) => s + r.reduce((u, x) => u + x, 0) / n, 0) / heads;
        expect(a).toBeCloseTo(aDirect, 12);
        expect(v).toBeCloseTo(vDirect, 12);
      }),
    );
  });
  it('agrees with the cached head-mean map path', () => {
    fc.assert(
      fc.property(scenario, ({ heads, n, rows, targets }) => {
        const att = flat(rows);
        const t = sortedTargets(targets);
        const direct = tokenAV(att, heads, n, t);
        const cached = avFromMeanMap(headMeanMap64(att, heads, n), t);
        expect(cached.a).toBeCloseTo(direct.a, 12);
        expect(cached.v).toBeCloseTo(direct.v, 12);
        expect(avFromMeanMap(headMeanMap64(att, heads, n), t, direct.v).v).toBe(direct.v);
      }),
    );
  });
});

describe('scoreRa and rewardRv', () => {
  it('are ½ and 0 when a = v, and follow the closed form x²/(1+x²)', () => {
    expect(scoreRa(0.01, 0.01)).toBe(0.5);
    expect(rewardRv(0.3, 0.3)).toBe(0);
    const x = (0.02 + EPS) / (0.005 + EPS);
    expect(scoreRa(0.02, 0.005)).toBeCloseTo((x * x) / (1 + x * x), 14);
    expect(rewardRv(0.005, 0.02)).toBeCloseTo((1 / (x * x) - 1) / (1 / (x * x) + 1), 14);
  });
  it('stay finite and within range at the extremes', () => {
    expect(scoreRa(0, 0)).toBe(0.5);
    expect(scoreRa(1, 0)).toBeCloseTo(1, 12);
    expect(scoreRa(0, 1)).toBeCloseTo(0, 12);
    expect(rewardRv(0, 1)).toBeCloseTo(-1, 12);
  });
});

describe('selection', () => {
  it('keeps max(1, ⌊T·ratio⌋) with a float guard', () => {
    expect(selectionCount(10, 0.3)).toBe(3);
    expect(selectionCount(100, 0.29)).toBe(29); // 100 × 0.29 = 28.999999999999996
    expect(selectionCount(3, 0.3)).toBe(1); // ⌊0.9⌋ = 0 → 1
    expect(selectionCount(1, 0.3)).toBe(1);
    expect(selectionCount(7, 1)).toBe(7);
    expect(selectionCount(0, 0.3)).toBe(0);
    expect(() => selectionCount(10, 0)).toThrow(/top ratio must be a positive number, got 0/);
    expect(() => selectTopEntropy([1, 2], Number.NaN)).toThrow(RangeError);
  });
  it('picks the highest entropies, ties to the lower index, returned ascending', () => {
    expect(selectTopEntropy([0.5, 2, 1, 2, 0.1, 3, 0, 0, 0, 0])).toEqual([1, 3, 5]);
    expect(selectTopEntropy([1, 1, 1, 1, 1, 1, 1, 1, 1, 1])).toEqual([0, 1, 2]);
    expect(selectTopEntropy([0, 0, 5, 5, 5, 5, 0, 0, 0, 0])).toEqual([2, 3, 4]);
    expect(selectTopEntropy([Number.NaN, 0.2, 0.1], 0.5)).toEqual([1]);
  });
  it('property: the selection has the right size and no unselected token beats a selected one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 60 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (entropy, ratio) => {
          const sel = selectTopEntropy(entropy, ratio);
          expect(sel.length).toBe(Math.min(entropy.length, Math.max(1, Math.floor(entropy.length * ratio + 1e-9))));
          expect([...sel].sort((a, b) => a - b)).toEqual(sel);
          const chosen = new Set(sel);
          for (let i = 0; i < entropy.length; i++) {
            if (chosen.has(i)) continue;
            for (const j of sel) {
              expect(entropy[i] > entropy[j] || (entropy[i] === entropy[j] && i < j)).toBe(false);
            }
          }
        },
      ),
    );
  });
});

/** Three one-head tokens over 4 image tokens, the box = token 0: looking at it, away from it, uniform. */
const THREE = {
  n: 4,
  targets: Int32Array.from([0]),
  tokens: [
    Float32Array.from([0.7, 0.1, 0.1, 0.1]),
    Float32Array.from([0.1, 0.3, 0.3, 0.3]),
    Float32Array.from([0.25, 0.25, 0.25, 0.25]),
  ],
};

describe('computeReward', () => {
  it('averages a and v over the selected tokens before the log ratio', () => {
    const { n, targets, tokens } = THREE;
    const r = computeReward({ tokens, heads: 1, n, targets, entropy: [1, 3, 2], topRatio: 2 / 3 });
    expect(r.selected).toEqual([1, 2]);
    expect(r.a_q).toBeCloseTo((0.1 + 0.25) / 2, 7);
    expect(r.v_q).toBeCloseTo(0.25, 7);
    expect(r.r_v).toBeCloseTo(rewardRv(0.175, 0.25), 6);
    expect(r.perToken[0].R_a).toBeCloseTo(scoreRa(0.7, 0.25), 6);
    expect(rewardFromAV(r.perToken, [1, 3, 2], 2 / 3)).toEqual({
      selected: r.selected,
      a_q: r.a_q,
      v_q: r.v_q,
      r_v: r.r_v,
    });
  });
  it('rejects mismatched lengths and empty inputs', () => {
    const tok = [Float32Array.from([0.5, 0.5])];
    expect(() =>
      computeReward({ tokens: tok, heads: 1, n: 2, targets: Int32Array.from([0]), entropy: [1, 2] }),
    ).toThrow(/entropy has 2 values for 1 tokens/);
    expect(() => computeReward({ tokens: tok, heads: 2, n: 2, targets: Int32Array.from([0]), entropy: [1] })).toThrow(
      /expected heads·n = 4/,
    );
    expect(() => computeReward({ tokens: [], heads: 1, n: 2, targets: Int32Array.from([0]), entropy: [] })).toThrow(
      /no generated token/,
    );
  });
});

describe('alignment', () => {
  const { n, targets, tokens } = THREE;
  it('produced (the default) keeps row t for token t; input gives token t row t + 1 and drops the last token', () => {
    expect(alignTokens(['r0', 'r1', 'r2'], [5, 6, 7])).toEqual({ rows: ['r0', 'r1', 'r2'], entropy: [5, 6, 7] });
    expect(alignTokens(['r0', 'r1', 'r2'], [5, 6, 7], 'input')).toEqual({ rows: ['r1', 'r2'], entropy: [5, 6] });
    expect(alignTokens(['r0'], [5], 'input')).toEqual({ rows: [], entropy: [] });
  });
  it("computeReward under input scores the rows after each token with that token's entropy", () => {
    const produced = computeReward({ tokens, heads: 1, n, targets, entropy: [3, 1, 2], topRatio: 0.5 });
    const input = computeReward({
      tokens,
      heads: 1,
      n,
      targets,
      entropy: [3, 1, 2],
      topRatio: 0.5,
      alignment: 'input',
    });
    expect(produced.selected).toEqual([0]);
    expect(produced.a_q).toBeCloseTo(0.7, 7);
    expect(input.perToken).toHaveLength(2);
    expect(input.selected).toEqual([0]);
    expect(input.a_q).toBeCloseTo(0.1, 7); // token 0 (highest entropy) owns row 1
    expect(input.v_q).toBeCloseTo(0.25, 7);
  });
  it('rejects an unknown alignment and a single token under input', () => {
    expect(() => alignTokens([1], [1], 'output' as never)).toThrow(
      /alignment must be one of produced, input, got output/,
    );
    expect(() =>
      computeReward({ tokens: tokens.slice(0, 1), heads: 1, n, targets, entropy: [1], alignment: 'input' }),
    ).toThrow(/no generated token/);
  });
});

describe('reward properties', () => {
  it('a box covering the whole image gives a = v and R_a = ½ (and r_v = 0)', () => {
    fc.assert(
      fc.property(scenario, ({ heads, n, rows }) => {
        const all = Int32Array.from({ length: n }, (_, k) => k);
        const r = computeReward({ tokens: [flat(rows)], heads, n, targets: all, entropy: [1] });
        expect(r.perToken[0].a).toBeCloseTo(r.perToken[0].v, 12);
        expect(r.perToken[0].R_a).toBeCloseTo(0.5, 9);
        expect(r.r_v).toBeCloseTo(0, 9);
      }),
    );
  });
  it('moving attention mass from outside into the box raises R_a (when anything moves)', () => {
    fc.assert(
      fc.property(scenario, fc.double({ min: 0.05, max: 1, noNaN: true }), ({ heads, n, rows, targets }, share) => {
        fc.pre(targets.length < n);
        const t = sortedTargets(targets);
        const inBox = new Set(targets);
        const outside = Array.from({ length: n }, (_, k) => k).filter((k) => !inBox.has(k));
        const before = flat(rows);
        const after = before.slice();
        let moved = 0;
        for (let h = 0; h < heads; h++) {
          for (const k of outside) {
            const m = after[h * n + k] * share;
            after[h * n + k] -= m;
            after[h * n + t[0]] += m;
            moved += m;
          }
        }
        fc.pre(moved > 1e-3);
        const rb = scoreRa(tokenAV(before, heads, n, t).a, tokenAV(before, heads, n, t).v);
        const ra = scoreRa(tokenAV(after, heads, n, t).a, tokenAV(after, heads, n, t).v);
        expect(ra).toBeGreaterThan(rb);
      }),
    );
  });
  it('permuting heads changes nothing', () => {
    fc.assert(
      fc.property(
        scenario.chain((s) =>
          fc.record({
            s: fc.constant(s),
            perm: fc.shuffledSubarray([...s.rows.keys()], { minLength: s.heads, maxLength: s.heads }),
          }),
        ),
        ({ s, perm }) => {
          const t = sortedTargets(s.targets);
          const a = tokenAV(flat(s.rows), s.heads, s.n, t);
          const b = tokenAV(flat(perm.map((h) => s.rows[h])), s.heads, s.n, t);
          expect(b.a).toBeCloseTo(a.a, 12);
          expect(b.v).toBeCloseTo(a.v, 12);
        },
      ),
    );
  });
  it('R_a is always in [0, 1] and r_v in [−1, 1], never NaN', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 1, maxLength: 1 }),
        ({ heads, n, rows, targets }, entropy) => {
          const r = computeReward({ tokens: [flat(rows)], heads, n, targets: sortedTargets(targets), entropy });
          expect(r.perToken[0].R_a).toBeGreaterThanOrEqual(0);
          expect(r.perToken[0].R_a).toBeLessThanOrEqual(1);
          expect(Math.abs(r.r_v)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});
