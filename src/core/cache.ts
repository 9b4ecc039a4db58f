/**
 * @file Per-token attention summaries cached while tokens stream in, so that the reward and the layers × heads R_a
 * matrix under any boxes are recomputed without touching the raw attention again.
 *
 * A cache holds, for a capture of `layers × heads × n` values per generated token (layer-major, then head-major):
 * - the sum of every (layer, head) row (v of every head, and of the head mean, in O(1));
 * - per layer, on first use, every token's head-mean map (float64): a box edit recomputes the reward at that layer
 *   in O(T·|targets|) instead of O(T·H·n) (lab/bench/core.ts: under a millisecond for T = 500, H = 32, n = 1,300);
 * - on first use, the sum over tokens of the whole capture (and of the last few other token sets asked for), and of
 *   that sum its running totals along the image tokens, cell-major (every (layer, head) at one image token side by
 *   side): the R_a matrix of all layers and heads over those tokens costs O(L·H·runs of targets) per box edit, read
 *   in a few contiguous blocks, instead of O(|tokens|·L·H·n) (or L·H·runs scattered reads of the sum).
 * The captures are referenced, not copied: do not modify them after `add`.
 */
import {
  type Alignment,
  type AttentionArray,
  type RewardResult,
  type TokenAV,
  DEFAULT_ALIGNMENT,
  DEFAULT_TOP_RATIO,
  EPS,
  alignTokens,
  avFromMeanMap,
  headMeanMap64,
  rewardFromAV,
  scoreRa,
  sumRange,
  targetRuns,
} from './reward.ts';

/** Options of {@link RewardCache.reward}. */
export interface CacheRewardOptions {
  /** Position of the layer in the capture (0 for a single-layer cache). */
  layer?: number;
  topRatio?: number;
  eps?: number;
  /** Which attention row a token owns; default 'produced'. */
  alignment?: Alignment;
}

/** Options of {@link RewardCache.headRa}. */
export interface CacheHeadOptions {
  eps?: number;
  /** Which attention row a token owns; default 'produced' (under 'input' the last token has no row). */
  alignment?: Alignment;
}

/** How many token sets other than "all tokens" keep their summed capture. */
const KEPT_SUMS = 4;

/** Summaries of every generated token's capture: `layers × heads × n` attention values per token. */
export class RewardCache {
  private readonly captures: AttentionArray[] = [];
  private readonly offsets: number[] = [];
  /** Per token: the sum of each (layer, head) row, layers × heads values. */
  private readonly rowSums: Float64Array[] = [];
  /** Per layer position, once used: every token's head-mean map. */
  private readonly meanMaps: (Float64Array[] | undefined)[];
  /** Σ over all tokens of the capture (layers × heads × n), once used; kept current by `add`. */
  private total: Float64Array | null = null;
  /** Σ over other token sets, keyed by their row list. */
  private readonly sums = new Map<string, Float64Array>();
  /** Running totals of a sum along the image tokens (see {@link RewardCache.prefixOf}), with the token count they include. */
  private readonly prefixes = new WeakMap<Float64Array, { size: number; prefix: Float64Array }>();
  private headCount = 0;

  /**
   * @param n image tokens per attention row (grid rows × cols)
   * @param layers captured layers per token (1 when a token's block is one layer's heads × n)
   */
  constructor(
    public readonly n: number,
    public readonly layers = 1,
  ) {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`n must be a positive integer, got ${n}`);
    if (!Number.isInteger(layers) || layers <= 0)
      throw new RangeError(`layers must be a positive integer, got ${layers}`);
    this.meanMaps = new Array<Float64Array[] | undefined>(layers);
  }

  /** Number of tokens cached. */
  get size(): number {
    return this.captures.length;
  }

  /** Heads per layer (0 before the first token). */
  get heads(): number {
    return this.headCount;
  }

  /**
   * Caches one generated token: its layers × heads × n block at `offset` (e.g. layerIndex·heads·n of a StepRecord
   * for a single-layer cache, 0 for a cache of the whole capture).
   * @throws RangeError when the block does not fit or the heads differ from the first token's
   */
  add(attention: AttentionArray, heads: number, offset = 0): void {
    if (!Number.isInteger(heads) || heads <= 0) throw new RangeError(`heads must be a positive integer, got ${heads}`);
    if (this.headCount !== 0 && heads !== this.headCount)
      throw new RangeError(`token has ${heads} heads, the cache ${this.headCount}`);
    const lh = this.layers * heads;
    const n = this.n;
    if (offset < 0 || offset + lh * n > attention.length) {
      throw new RangeError(
        `attention holds ${attention.length} values, need ${offset + lh * n} (offset + layers·heads·n)`,
      );
    }
    this.headCount = heads;
    const sums = new Float64Array(lh);
    for (let i = 0; i < lh; i++) sums[i] = sumRange(attention, offset + i * n, offset + (i + 1) * n);
    this.captures.push(attention);
    this.offsets.push(offset);
    this.rowSums.push(sums);
    this.meanMaps.forEach((maps, li) => maps?.push(headMeanMap64(attention, heads, n, offset + li * heads * n)));
    if (this.total) addInto(this.total, attention, offset);
  }

  /** The head-mean map of token t at a layer position (float64, n values; do not modify). */
  map(t: number, layer = 0): Float64Array {
    const maps = this.layerMaps(layer);
    const m = maps[t];
    if (m === undefined) throw new RangeError(`token ${t} is not cached (${maps.length} tokens)`);
    return m;
  }

  /** a and v (head mean) of every cached token at a layer position, for these targets (sorted, unique, < n). */
  av(targets: Int32Array, layer = 0): TokenAV[] {
    for (let j = 0; j < targets.length; j++) {
      if (targets[j] < 0 || targets[j] >= this.n)
        throw new RangeError(`target token ${targets[j]} is outside 0…${this.n - 1}`);
    }
    const maps = this.layerMaps(layer);
    const H = this.headCount;
    return maps.map((m, t) => {
      let s = 0;
      for (let h = 0; h < H; h++) s += this.rowSums[t][layer * H + h];
      return avFromMeanMap(m, targets, s / (H * this.n));
    });
  }

  /**
   * The full reward of the cached tokens under these targets (same result as computeReward on the raw attention of
   * that layer, up to float64 rounding); perToken and selected index the scored tokens of the alignment.
   * @throws RangeError for no targets, no scored token or an entropy list of the wrong length
   */
  reward(targets: Int32Array, entropy: ArrayLike<number>, options: CacheRewardOptions = {}): RewardResult {
    const { layer = 0, topRatio = DEFAULT_TOP_RATIO, eps = EPS, alignment = DEFAULT_ALIGNMENT } = options;
    if (entropy.length !== this.size)
      throw new RangeError(`entropy has ${entropy.length} values for ${this.size} tokens`);
    const aligned = alignTokens(this.av(targets, layer), entropy, alignment);
    const perToken = aligned.rows.map(({ a, v }) => ({ a, v, R_a: scoreRa(a, v, eps) }));
    return { perToken, ...rewardFromAV(perToken, aligned.entropy, topRatio, eps) };
  }

  /**
   * R_a of every (layer, head) over the given set of tokens, layer-major (values[li·heads + h]): a and v are averaged over
   * the tokens' rows (as a_q and v_q are for r_v), then scored; for one token it is that head's own R_a.
   * Under the 'input' alignment token t owns row t + 1, so the last token contributes nothing.
   * @throws RangeError for a token that is not cached, no row to use, or empty / invalid targets
   */
  headRa(targets: Int32Array, tokens: readonly number[], options: CacheHeadOptions = {}): Float64Array {
    const { eps = EPS, alignment = DEFAULT_ALIGNMENT } = options;
    const shift = alignment === 'input' ? 1 : 0;
    const picked = new Set<number>();
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= this.size)
        throw new RangeError(`token ${t} does not exist (${this.size} tokens)`);
      if (t + shift < this.size) picked.add(t + shift);
    }
    const rows = [...picked].sort((x, y) => x - y);
    if (rows.length === 0) {
      throw new RangeError(
        tokens.length === 0
          ? 'no token to build the head matrix from'
          : `no attention row for these tokens under the ${alignment} alignment`,
      );
    }
    const runs = targetRuns(targets, this.n);
    const lh = this.layers * this.headCount;
    const n = this.n;
    const inside = new Float64Array(lh);
    if (rows.length === 1) {
      const values = this.captures[rows[0]];
      const base = this.offsets[rows[0]];
      for (let i = 0; i < lh; i++) {
        const start = base + i * n;
        for (let r = 0; r < runs.length; r += 2) inside[i] += sumRange(values, start + runs[r], start + runs[r + 1]);
      }
    } else {
      // Σ over a run [a, b) of image tokens = prefix[b] − prefix[a], for every (layer, head) at once.
      const prefix = this.prefixOf(this.sumOf(rows));
      for (let r = 0; r < runs.length; r += 2) {
        const a = runs[r] * lh;
        const b = runs[r + 1] * lh;
        for (let i = 0; i < lh; i++) inside[i] += prefix[b + i] - prefix[a + i];
      }
    }
    const out = new Float64Array(lh);
    for (let i = 0; i < lh; i++) {
      let all = 0;
      for (const row of rows) all += this.rowSums[row][i];
      out[i] = scoreRa(inside[i] / (rows.length * targets.length), all / (rows.length * n), eps);
    }
    return out;
  }

  /**
   * Running totals of a summed capture along the image tokens, cell-major: prefix[k·L·H + i] = Σ sum[i·n + k′] over
   * k′ < k, for k = 0…n. Built on first use per sum and rebuilt when the sum over all tokens has grown since.
   */
  private prefixOf(sum: Float64Array): Float64Array {
    const kept = this.prefixes.get(sum);
    const size = sum === this.total ? this.size : 0;
    if (kept && kept.size === size) return kept.prefix;
    const lh = this.layers * this.headCount;
    const n = this.n;
    const prefix = kept?.prefix ?? new Float64Array((n + 1) * lh);
    for (let i = 0; i < lh; i++) {
      let run = 0;
      const row = i * n;
      for (let k = 0; k < n; k++) {
        run += sum[row + k];
        prefix[(k + 1) * lh + i] = run;
      }
    }
    this.prefixes.set(sum, { size, prefix });
    return prefix;
  }

  /** Head-mean maps of a layer position, built on first use. */
  private layerMaps(layer: number): Float64Array[] {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layers) {
      throw new RangeError(`layer position ${layer} is outside 0…${this.layers - 1}`);
    }
    let maps = this.meanMaps[layer];
    if (!maps) {
      const H = this.headCount;
      maps = this.captures.map((c, t) => headMeanMap64(c, H, this.n, this.offsets[t] + layer * H * this.n));
      this.meanMaps[layer] = maps;
    }
    return maps;
  }

  /** Σ of the captures of these rows (ascending, unique): the running total for all rows, else a kept sum. */
  private sumOf(rows: number[]): Float64Array {
    const size = this.layers * this.headCount * this.n;
    if (rows.length === this.size) {
      if (!this.total) {
        this.total = new Float64Array(size);
        this.captures.forEach((c, t) => addInto(this.total!, c, this.offsets[t]));
      }
      return this.total;
    }
    const key = rows.join(',');
    let sum = this.sums.get(key);
    if (!sum) {
      sum = new Float64Array(size);
      for (const row of rows) addInto(sum, this.captures[row], this.offsets[row]);
      if (this.sums.size >= KEPT_SUMS) this.sums.delete(this.sums.keys().next().value!);
      this.sums.set(key, sum);
    }
    return sum;
  }
}

/** target[i] += source[offset + i] for every i of target. */
function addInto(target: Float64Array, source: AttentionArray, offset: number): void {
  for (let i = 0; i < target.length; i++) target[i] += source[offset + i];
}
