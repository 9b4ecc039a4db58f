/**
 * @file Seeded sampling for the generation loop (greedy uses src/core's argmax): draws from
 * softmax(logits / T) with optional nucleus (top-p) truncation. The RNG is mulberry32, so a seed replays exactly.
 */

/** A small, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples from softmax(logits / temperature), restricted to the top-p nucleus when 0 < topP < 1. */
export function sampleToken(
  logits: Float32Array,
  temperature: number,
  topP: number | undefined,
  rng: () => number,
): number {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  const p = new Float64Array(n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp((logits[i] - max) / temperature);
    z += p[i];
  }
  let order: number[] = Array.from({ length: n }, (_, i) => i);
  if (topP !== undefined && topP > 0 && topP < 1) {
    order.sort((a, b) => p[b] - p[a] || a - b);
    let cum = 0;
    let keep = 0;
    while (keep < n && cum < topP * z) cum += p[order[keep++]];
    order = order.slice(0, Math.max(1, keep));
    z = cum;
  }
  let u = rng() * z;
  for (const i of order) {
    u -= p[i];
    if (u < 0) return i;
  }
  return order[order.length - 1];
}
