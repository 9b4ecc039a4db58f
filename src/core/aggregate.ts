/**
 * @file Attention aggregation for display: layer pick, head mean / max / single head, mean over all or selected
 * tokens, normalisation modes, image-attention share, token entropy from logits, and the arg-max token.
 *
 * Attention layout (src/engine/types.ts): one token's capture is `layers × heads × n`, layer-major then head-major:
 *   attention[(l·heads + h)·n + k].
 */

/** How heads are combined: their mean (the SAYO definition), their max, or one head. */
export type HeadMode = { kind: 'mean' } | { kind: 'max' } | { kind: 'head'; head: number };

/**
 * Display normalisation: 'raw' keeps attention probabilities; 'image' renormalises over the image tokens to sum 1;
 * 'shared' divides by one maximum shared across panels (so base and trained are on the same scale).
 */
export type NormMode = 'raw' | 'image' | 'shared';

/** A normalised map and the value its colour scale should top out at. */
export interface NormalizedMap {
  values: Float32Array;
  /** raw/image: the map's own maximum; shared: the shared maximum used as divisor (values then lie in [0, 1]). */
  max: number;
}

/** Position of `layer` in the captured layers list; throws RangeError naming what was captured when absent. */
export function layerIndex(layers: readonly number[], layer: number): number {
  const li = layers.indexOf(layer);
  if (li < 0) throw new RangeError(`layer ${layer} was not captured (captured: ${layers.join(', ') || 'none'})`);
  return li;
}

/**
 * One layer's attention over the n image tokens with heads combined by `mode`.
 * @param attention one token's capture, layers.length × heads × n
 * @param layers the captured decoder layers, in the order of the data
 * @param layer the decoder layer to show (a value of `layers`, not a position)
 * @throws RangeError when the layer was not captured, the head does not exist or the data is too short
 */
export function headMap(
  attention: Float32Array,
  layers: readonly number[],
  heads: number,
  n: number,
  layer: number,
  mode: HeadMode,
): Float32Array {
  const li = layerIndex(layers, layer);
  if (attention.length < layers.length * heads * n) {
    throw new RangeError(
      `attention holds ${attention.length} values, expected layers·heads·n = ${layers.length * heads * n}`,
    );
  }
  const base = li * heads * n;
  if (mode.kind === 'head') {
    if (!Number.isInteger(mode.head) || mode.head < 0 || mode.head >= heads) {
      throw new RangeError(`head ${mode.head} does not exist (heads 0…${heads - 1})`);
    }
    return attention.slice(base + mode.head * n, base + (mode.head + 1) * n);
  }
  const acc = new Float64Array(n);
  if (mode.kind === 'max') acc.fill(-Infinity);
  for (let h = 0; h < heads; h++) {
    const off = base + h * n;
    if (mode.kind === 'max') for (let k = 0; k < n; k++) acc[k] = Math.max(acc[k], attention[off + k]);
    else for (let k = 0; k < n; k++) acc[k] += attention[off + k];
  }
  if (mode.kind === 'mean') for (let k = 0; k < n; k++) acc[k] /= heads;
  return Float32Array.from(acc);
}

/**
 * Element-wise mean of maps (e.g. per-token head maps), over all of them or over `indices` (e.g. the selected
 * top-entropy tokens).
 * @throws RangeError when there is nothing to average, lengths differ or an index is out of range
 */
export function meanMaps(maps: readonly Float32Array[], indices?: readonly number[]): Float32Array {
  const picked = indices ?? maps.map((_, i) => i);
  if (picked.length === 0) throw new RangeError('no map to average');
  const n = maps[picked[0]]?.length;
  if (n === undefined) throw new RangeError(`map ${picked[0]} does not exist (${maps.length} maps)`);
  const acc = new Float64Array(n);
  for (const i of picked) {
    const m = maps[i];
    if (m === undefined) throw new RangeError(`map ${i} does not exist (${maps.length} maps)`);
    if (m.length !== n) throw new RangeError(`map ${i} has ${m.length} values, expected ${n}`);
    for (let k = 0; k < n; k++) acc[k] += m[k];
  }
  for (let k = 0; k < n; k++) acc[k] /= picked.length;
  return Float32Array.from(acc);
}

/** Largest value of a map (0 for an empty map). */
export function mapMax(map: ArrayLike<number>): number {
  let max = 0;
  for (let k = 0; k < map.length; k++) if (map[k] > max) max = map[k];
  return max;
}

/** The shared maximum of several panels' maps, for NormMode 'shared'. */
export function sharedMax(maps: readonly ArrayLike<number>[]): number {
  return maps.reduce((m, map) => Math.max(m, mapMax(map)), 0);
}

/**
 * Normalises a map for display.
 * - 'raw': a copy; max = its maximum.
 * - 'image': divided by its sum over the image tokens (sums to 1; all zeros stay zeros); max = the new maximum.
 * - 'shared': divided by `sharedMaxValue` (default: the map's own maximum); max = that divisor.
 */
export function normalizeMap(map: Float32Array, mode: NormMode, sharedMaxValue?: number): NormalizedMap {
  if (mode === 'raw') return { values: map.slice(), max: mapMax(map) };
  if (mode === 'image') {
    let sum = 0;
    for (let k = 0; k < map.length; k++) sum += map[k];
    const values = new Float32Array(map.length);
    if (sum > 0) for (let k = 0; k < map.length; k++) values[k] = map[k] / sum;
    return { values, max: mapMax(values) };
  }
  const divisor = sharedMaxValue ?? mapMax(map);
  if (!(divisor >= 0) || !Number.isFinite(divisor)) throw new RangeError(`shared maximum must be ≥ 0, got ${divisor}`);
  const values = new Float32Array(map.length);
  if (divisor > 0) for (let k = 0; k < map.length; k++) values[k] = map[k] / divisor;
  return { values, max: divisor };
}

/**
 * Share of a full attention row that falls on the image-token columns [start, start + n): Σ image / Σ row.
 * @returns a value in [0, 1]; 0 for an all-zero row
 */
export function rowImageShare(row: ArrayLike<number>, start: number, n: number): number {
  if (start < 0 || start + n > row.length)
    throw new RangeError(`image span [${start}, ${start + n}) exceeds the row of ${row.length}`);
  let total = 0;
  let image = 0;
  for (let k = 0; k < row.length; k++) {
    total += row[k];
    if (k >= start && k < start + n) image += row[k];
  }
  return total > 0 ? image / total : 0;
}

/**
 * A token's image-attention share for one layer, heads combined by `mode` (the SAYO metric uses the mean).
 * @param shares per (layer, head) shares, layers.length × heads (StepRecord.imageShare)
 */
export function imageShare(
  shares: Float32Array,
  layers: readonly number[],
  heads: number,
  layer: number,
  mode: HeadMode = { kind: 'mean' },
): number {
  return headMap(shares, layers, heads, 1, layer, mode)[0];
}

/**
 * Entropy (nats) of softmax(logits / temperature), computed stably with log-sum-exp.
 * @throws RangeError for a temperature ≤ 0 or empty logits
 */
export function entropyFromLogits(logits: Float32Array, temperature = 1): number {
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  if (logits.length === 0) throw new RangeError('no logits');
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (!Number.isFinite(max)) throw new RangeError(`logits must be finite, largest is ${max}`);
  let z = 0;
  let weighted = 0;
  for (let i = 0; i < logits.length; i++) {
    const s = (logits[i] - max) / temperature;
    const e = Math.exp(s);
    if (e === 0) continue;
    z += e;
    weighted += e * s;
  }
  return Math.log(z) - weighted / z;
}

/** Index of the largest value (the first on ties); -1 for an empty map. Used for the pointing-hit metric. */
export function argmax(map: ArrayLike<number>): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let k = 0; k < map.length; k++) {
    if (map[k] > bestValue) {
      bestValue = map[k];
      best = k;
    }
  }
  return best;
}
