/**
 * @file Benchmark of the reward core: prints figures, asserts nothing timed.
 * Run: `npx tsx lab/bench/core.ts`.
 *
 * 1. reward + selection for T = 500 generated tokens, H = 32 heads, N = 1,300 image tokens, from the raw attention
 *    (computeReward: a, v, R_a for every token, top-30 % entropy selection, r_v); target < 5 ms;
 * 2. the same from a RewardCache (per-token head-mean maps and v, filled once while tokens stream in);
 * 3. a box edit: new targets → R_a of all tokens + r_v from the cache (v unchanged); target one 16 ms frame;
 * 4. a box edit without the cache (computeReward again);
 * 5. r_v alone from the raw attention (selection first, then a and v of the selected tokens only, as the trainer does).
 * The raw-attention figures are memory-bound: T·H·N = 20.8 M float32 (83 MB) are read once per call.
 */
import { Command } from 'commander';
import { RewardCache } from '../../src/core/cache.ts';
import { type Box, boxToTokens, gridFor } from '../../src/core/geometry.ts';
import { computeReward, rewardRv, selectTopEntropy, tokenAV } from '../../src/core/reward.ts';
import { mulberry32 as rng } from '../../src/engine/sampling.ts';
import { median } from '../support/stats.ts';

new Command('npx tsx lab/bench/core.ts')
  .description(
    'The reward core in Node: reward and selection for 500 tokens × 32 heads × 1,300 image tokens from the raw attention and from a RewardCache, a box edit with and without the cache, r_v alone. Printed, never asserted.',
  )
  .parse();

const T = 500;
const H = 32;
const WARMUP = 5;
const RUNS = 41;

/** Results are kept here so that no timed call can be optimised away. */
const sink: unknown[] = [];

/** Prints and returns the median wall time of `fn` over `runs` runs (after a warm-up). */
function time(label: string, runs: number, fn: () => unknown): number {
  for (let i = 0; i < WARMUP; i++) sink.push(fn());
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    sink.push(fn());
    ms.push(performance.now() - start);
  }
  sink.length = 0;
  const m = median(ms);
  console.log(
    `${label.padEnd(64)} median ${m.toFixed(3)} ms  (min ${Math.min(...ms).toFixed(3)}, max ${Math.max(...ms).toFixed(3)}, ${runs} runs)`,
  );
  return m;
}

// An image whose grid has exactly 1,300 tokens: 1,400 × 728 px → 26 × 50 cells of 28 px.
const grid = gridFor(
  { width: 1400, height: 728 },
  { patch_size: 14, merge_size: 2, min_pixels: 3136, max_pixels: 1400 * 728 },
);
const N = grid.rows * grid.cols;
const random = rng(42);
const tokens = Array.from({ length: T }, () => {
  const a = new Float32Array(H * N);
  for (let h = 0; h < H; h++) {
    let sum = 0;
    for (let k = 0; k < N; k++) sum += a[h * N + k] = random() ** 4;
    for (let k = 0; k < N; k++) a[h * N + k] *= 0.6 / sum; // 60 % of each row on the image
  }
  return a;
});
const entropy = Array.from({ length: T }, () => random() * 4);
const BOX_A: Box[] = [[300, 100, 700, 500]];
const BOX_B: Box[] = [
  [100, 50, 1200, 650],
  [0, 0, 200, 200],
];
const targetsA = boxToTokens(BOX_A, grid);
const targetsB = boxToTokens(BOX_B, grid);

console.log(
  `SAYO reward core benchmark — node ${process.version}, T = ${T}, H = ${H}, N = ${N} (${grid.rows}×${grid.cols}), ` +
    `targets ${targetsA.length} / ${targetsB.length}`,
);

time('1. computeReward from raw attention (a, v, R_a ∀t + selection + r_v)', RUNS, () =>
  computeReward({ tokens, heads: H, n: N, targets: targetsA, entropy }),
);

const fillStart = performance.now();
const cache = new RewardCache(N);
for (const a of tokens) cache.add(a, H);
const fillMs = performance.now() - fillStart;
console.log(
  `${'   (one-off: RewardCache.add of every token, as tokens stream in)'.padEnd(64)} ${fillMs.toFixed(3)} ms total, ${(fillMs / T).toFixed(4)} ms per token`,
);

time('2. reward + selection from the cache (RewardCache.reward)', RUNS * 5, () => cache.reward(targetsA, entropy));

let flip = false;
time('3. box edit: boxToTokens + RewardCache.reward (R_a ∀t, r_v)', RUNS * 5, () => {
  flip = !flip;
  return cache.reward(boxToTokens(flip ? BOX_A : BOX_B, grid), entropy);
});

time('4. box edit from raw attention (no cache): computeReward', RUNS, () =>
  computeReward({ tokens, heads: H, n: N, targets: targetsB, entropy }),
);

time('5. r_v alone from raw attention (selected tokens only)', RUNS, () => {
  const selected = selectTopEntropy(entropy);
  let a = 0;
  let v = 0;
  for (const t of selected) {
    const av = tokenAV(tokens[t], H, N, targetsA);
    a += av.a;
    v += av.v;
  }
  return rewardRv(a / selected.length, v / selected.length);
});
