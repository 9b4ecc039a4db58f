/**
 * @file The SAYO region reward (the SAYO paper, arXiv 2602.08241, §2; models/CONTRACT.md), for one layer's attention.
 *
 * Per generated token t with attention A[h][k] over the N image tokens:
 *   a_t = mean_h mean_{k∈target} A,  v_t = mean_h mean_{k<N} A,  R_a(t) = ½(1 + tanh(log((a_t+ε)/(v_t+ε)))).
 * Selection: the k = max(1, ⌊T·ratio⌋) tokens of highest entropy (ties: lower index first).
 * Reward: a_q, v_q = means of a_t, v_t over the selected tokens; r_v = tanh(log((a_q+ε)/(v_q+ε))).
 * All sums run in float64 over the float32 attention.
 *
 * Which attention row a generated token owns is an explicit choice ({@link Alignment}): the rows come in generation
 * order (row t is the query that produced token t, as each decoding step records it) and {@link alignTokens} maps
 * them to the scored tokens.
 */

/** Default stability constant ε (the official SAYO code's value). */
export const EPS = 1e-8;
/** Default share of generated tokens scored: the top 30 % by entropy. */
export const DEFAULT_TOP_RATIO = 0.3;

/**
 * Which attention row a generated token owns.
 * - 'produced' (default): token t owns row t, the query that produced it. That row is where the model looked while
 *   choosing the token, every token (the first included) is scored, and it is the row a decoding step records.
 * - 'input' (the official SAYO code): token t owns row t + 1, where t is the input; tokens 0…T−2 are scored with their
 *   own entropies, so the row that produced the first token and the last token are never scored.
 */
export type Alignment = 'produced' | 'input';
/** The accepted alignments, for validation messages. */
export const ALIGNMENTS: readonly Alignment[] = ['produced', 'input'];
/** Default alignment: 'produced' (see {@link Alignment} for the reason). */
export const DEFAULT_ALIGNMENT: Alignment = 'produced';

/**
 * The rows and entropies of the scored tokens under an alignment. `rows[t]` produced token t, `entropy[t]` is token
 * t's entropy; 'produced' keeps both, 'input' pairs rows[t + 1] with entropy[t] for t < T − 1.
 * @throws RangeError when the lengths differ or the alignment is unknown
 */
export function alignTokens<R>(
  rows: readonly R[],
  entropy: ArrayLike<number>,
  alignment: Alignment = DEFAULT_ALIGNMENT,
): { rows: R[]; entropy: number[] } {
  if (!ALIGNMENTS.includes(alignment)) {
    throw new RangeError(`alignment must be one of ${ALIGNMENTS.join(', ')}, got ${String(alignment)}`);
  }
  if (rows.length !== entropy.length)
    throw new RangeError(`entropy has ${entropy.length} values for ${rows.length} tokens`);
  const ent = Array.from(entropy);
  if (alignment === 'produced') return { rows: rows.slice(), entropy: ent };
  return { rows: rows.slice(1), entropy: ent.slice(0, -1) };
}

/** One token's attention values: float32 as captured, or float64 (e.g. parsed from JSON). */
export type AttentionArray = Float32Array | Float64Array;

/** Mean target-region attention a and mean image attention v of one token. */
export interface TokenAV {
  a: number;
  v: number;
}

/** One token's a, v and region score R_a ∈ [0, 1]. */
export interface TokenScore extends TokenAV {
  R_a: number;
}

/** Everything the reward needs for a sequence of generated tokens. */
export interface RewardInput {
  /** One array per generated token: heads × n, head-major (one layer). */
  tokens: AttentionArray[];
  heads: number;
  /** Image tokens per row (= grid rows × cols). */
  n: number;
  /** Target token indices (sorted, unique, each < n), e.g. from boxToTokens. */
  targets: Int32Array;
  /** Entropy of each generated token (nats), same length as tokens. */
  entropy: ArrayLike<number>;
  /** Share of tokens selected by entropy; default 0.3. */
  topRatio?: number;
  /** Stability constant; default 1e-8. */
  eps?: number;
  /** Which row a token owns; default 'produced'. perToken and selected then index the scored tokens. */
  alignment?: Alignment;
}

/** The SAYO reward of a sequence, with the per-token scores behind it. */
export interface RewardResult {
  perToken: TokenScore[];
  /** Selected token indices, ascending. */
  selected: number[];
  a_q: number;
  v_q: number;
  r_v: number;
}

/**
 * a and v of one token: the head mean of the mean attention over the targets, and over all n image tokens.
 * @param attention the token's attention; the block used is attention[offset + h·n + k]
 * @param offset start of the (heads × n) block, e.g. layerIndex·heads·n for a StepRecord's attention
 * @param targets sorted, unique target indices (< n), e.g. from boxToTokens
 * @throws RangeError when the block does not fit or the targets are empty, unsorted or out of range
 */
export function tokenAV(attention: AttentionArray, heads: number, n: number, targets: Int32Array, offset = 0): TokenAV {
  return tokenAVRuns(attention, heads, n, targetRuns(targets, n), targets.length, offset);
}

/**
 * Sorted, unique target indices as maximal runs [start₀, end₀, start₁, end₁, …) (a box is one run per grid row),
 * so that sums over the targets read contiguous memory.
 * @throws RangeError for an empty, unsorted, duplicated or out-of-range target list
 */
export function targetRuns(targets: Int32Array, n: number): Int32Array {
  if (targets.length === 0) throw new RangeError('no target token');
  const runs: number[] = [];
  for (let j = 0; j < targets.length; j++) {
    const k = targets[j];
    if (k < 0 || k >= n) throw new RangeError(`target token ${k} is outside 0…${n - 1}`);
    if (j > 0 && k <= targets[j - 1]) throw new RangeError('target tokens must be sorted and unique');
    if (runs.length > 0 && runs[runs.length - 1] === k) runs[runs.length - 1] = k + 1;
    else runs.push(k, k + 1);
  }
  return Int32Array.from(runs);
}

/** Σ values[from…to) with four float64 accumulators (about twice as fast as one dependent chain). */
export function sumRange(values: AttentionArray, from: number, to: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = from;
  for (; i + 3 < to; i += 4) {
    s0 += values[i];
    s1 += values[i + 1];
    s2 += values[i + 2];
    s3 += values[i + 3];
  }
  for (; i < to; i++) s0 += values[i];
  return s0 + s1 + s2 + s3;
}

/**
 * {@link tokenAV} with the targets given as runs (see {@link targetRuns}) and their count: one pass over
 * heads × n values, each read once (the inside and the outside of the runs are summed separately).
 */
export function tokenAVRuns(
  attention: AttentionArray,
  heads: number,
  n: number,
  runs: Int32Array,
  count: number,
  offset = 0,
): TokenAV {
  if (offset < 0 || offset + heads * n > attention.length) {
    throw new RangeError(`attention holds ${attention.length} values, need ${offset + heads * n} (offset + heads·n)`);
  }
  if (count === 0) throw new RangeError('no target token');
  let inside = 0;
  let outside = 0;
  for (let h = 0; h < heads; h++) {
    const base = offset + h * n;
    let k = base;
    for (let r = 0; r < runs.length; r += 2) {
      const start = base + runs[r];
      const end = base + runs[r + 1];
      outside += sumRange(attention, k, start);
      inside += sumRange(attention, start, end);
      k = end;
    }
    outside += sumRange(attention, k, base + n);
  }
  return { a: inside / (heads * count), v: (inside + outside) / (heads * n) };
}

/**
 * The head-mean attention map of one token in float64 (n values), for caching: with it, a box edit recomputes
 * a_t in O(|targets|) via {@link avFromMeanMap} instead of touching heads × n values again.
 */
export function headMeanMap64(attention: AttentionArray, heads: number, n: number, offset = 0): Float64Array {
  if (offset < 0 || offset + heads * n > attention.length) {
    throw new RangeError(`attention holds ${attention.length} values, need ${offset + heads * n} (offset + heads·n)`);
  }
  const out = new Float64Array(n);
  for (let h = 0; h < heads; h++) {
    const base = offset + h * n;
    for (let k = 0; k < n; k++) out[k] += attention[base + k];
  }
  for (let k = 0; k < n; k++) out[k] /= heads;
  return out;
}

/** a and v from a cached head-mean map (see {@link headMeanMap64}); v may be passed when already known. */
export function avFromMeanMap(map: Float64Array, targets: Int32Array, v?: number): TokenAV {
  if (targets.length === 0) throw new RangeError('no target token');
  let target = 0;
  for (let j = 0; j < targets.length; j++) target += map[targets[j]];
  let mean = v;
  if (mean === undefined) {
    let all = 0;
    for (let k = 0; k < map.length; k++) all += map[k];
    mean = all / map.length;
  }
  return { a: target / targets.length, v: mean };
}

/** Region score R_a = ½(1 + tanh(log((a+ε)/(v+ε)))) ∈ [0, 1]; ½ when a = v. */
export function scoreRa(a: number, v: number, eps: number = EPS): number {
  return 0.5 * (1 + Math.tanh(Math.log((a + eps) / (v + eps))));
}

/** SAYO training reward r_v = tanh(log((a_q+ε)/(v_q+ε))) ∈ [−1, 1]; 0 when a_q = v_q. */
export function rewardRv(aq: number, vq: number, eps: number = EPS): number {
  return Math.tanh(Math.log((aq + eps) / (vq + eps)));
}

/** Added before flooring T·ratio, so that products such as 100 × 0.29 = 28.999999999999996 floor to 29 (as in the trainer). */
export const FLOOR_GUARD = 1e-9;

/**
 * How many of T tokens the entropy selection keeps: max(1, ⌊T·ratio + 1e-9⌋), never more than T
 * (the guard makes ⌊10 × 0.3⌋ = 3 and ⌊100 × 0.29⌋ = 29 whatever the float error of the product).
 * @throws RangeError for a ratio that is not a positive number
 */
export function selectionCount(total: number, ratio: number = DEFAULT_TOP_RATIO): number {
  if (!(ratio > 0 && Number.isFinite(ratio))) throw new RangeError(`top ratio must be a positive number, got ${ratio}`);
  if (total <= 0) return 0;
  return Math.min(total, Math.max(1, Math.floor(total * ratio + FLOOR_GUARD)));
}

/**
 * Indices of the max(1, ⌊T·ratio⌋) highest-entropy tokens; ties go to the lower index; NaN ranks lowest.
 * @returns the selected indices sorted ascending
 */
export function selectTopEntropy(entropy: ArrayLike<number>, ratio: number = DEFAULT_TOP_RATIO): number[] {
  const total = entropy.length;
  const k = selectionCount(total, ratio);
  const key = (i: number) => (Number.isNaN(entropy[i]) ? -Infinity : entropy[i]);
  const order = Array.from({ length: total }, (_, i) => i);
  order.sort((i, j) => {
    const d = key(j) - key(i);
    return d > 0 || d < 0 ? d : i - j;
  });
  return order.slice(0, k).sort((i, j) => i - j);
}

/**
 * The reward from per-token a and v already computed (e.g. cached while tokens stream in):
 * selection, a_q, v_q and r_v. O(T log T).
 */
export function rewardFromAV(
  av: readonly TokenAV[],
  entropy: ArrayLike<number>,
  topRatio: number = DEFAULT_TOP_RATIO,
  eps: number = EPS,
): Omit<RewardResult, 'perToken'> {
  if (av.length !== entropy.length) {
    throw new RangeError(`entropy has ${entropy.length} values for ${av.length} tokens`);
  }
  if (av.length === 0) throw new RangeError('no generated token');
  const selected = selectTopEntropy(entropy, topRatio);
  let aSum = 0;
  let vSum = 0;
  for (const t of selected) {
    aSum += av[t].a;
    vSum += av[t].v;
  }
  const a_q = aSum / selected.length;
  const v_q = vSum / selected.length;
  return { selected, a_q, v_q, r_v: rewardRv(a_q, v_q, eps) };
}

/**
 * The SAYO reward of a generated sequence: a, v, R_a for every token, the entropy selection, a_q, v_q and r_v.
 * @throws RangeError for mismatched lengths, no tokens or no targets
 */
export function computeReward(input: RewardInput): RewardResult {
  const { heads, n, targets } = input;
  const topRatio = input.topRatio ?? DEFAULT_TOP_RATIO;
  const eps = input.eps ?? EPS;
  const { rows: tokens, entropy } = alignTokens(input.tokens, input.entropy, input.alignment);
  const runs = targetRuns(targets, n);
  const perToken = tokens.map((attention, t) => {
    if (attention.length !== heads * n) {
      throw new RangeError(`token ${t}: attention holds ${attention.length} values, expected heads·n = ${heads * n}`);
    }
    const { a, v } = tokenAVRuns(attention, heads, n, runs, targets.length);
    return { a, v, R_a: scoreRa(a, v, eps) };
  });
  return { perToken, ...rewardFromAV(perToken, entropy, topRatio, eps) };
}
