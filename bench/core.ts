/**
 * @file Benchmark of the reward core (issue #3): prints figures, asserts nothing timed.
 * Run: `npx tsx bench/core.ts`.
 *
 * 1. reward + selection for T = 500 generated tokens, H = 32 heads, N = 1,300 image tokens, from the raw attention
 *    (computeReward: a, v, R_a for every token, top-30 % entropy selection, r_v); target < 5 ms.
 * 2. the same from per-token head-mean maps cached while tokens stream in (what the app holds), and
 * 3. a box edit: new targets → R_a of all tokens + r_v from the cached maps (v unchanged); target one 16 ms frame;
 * 4. a box edit without the cache (computeReward again), and
 * 5. r_v alone from the raw attention (selection first, then a and v of the selected tokens only, as the trainer does).
 * The raw-attention figures are memory-bound: T·H·N = 20.8 M float32 (83 MB) are read once per call.
 */
import { boxToTokens, gridFor } from '../src/core/geometry.ts';
import {
  avFromMeanMap,
  computeReward,
  headMeanMap64,
  rewardFromAV,
  rewardRv,
  scoreRa,
  selectTopEntropy,
  tokenAV,
} from '../src/core/reward.ts';

const T = 500;
const H = 32;
const WARMUP = 5;
const RUNS = 41;

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(label: string, runs: number, fn: () => unknown): number {
  let sink = 0;
  for (let i = 0; i < WARMUP; i++) sink += Number(Boolean(fn()));
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    sink += Number(Boolean(fn()));
    ms.push(performance.now() - t0);
  }
  const m = median(ms);
  console.log(`${label.padEnd(64)} median ${m.toFixed(3)} ms  (min ${Math.min(...ms).toFixed(3)}, max ${Math.max(...ms).toFixed(3)}, ${runs} runs${sink < 0 ? '' : ''})`);
  return m;
}

// An image whose grid has exactly 1,300 tokens: 1,400 × 728 px → 50 × 26 cells of 28 px.
const proc = { patch_size: 14, merge_size: 2, min_pixels: 3136, max_pixels: 1400 * 728 };
const grid = gridFor({ width: 1400, height: 728 }, proc);
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
const boxA = boxToTokens([[300, 100, 700, 500]], grid);
const boxB = boxToTokens([[100, 50, 1200, 650], [0, 0, 200, 200]], grid);

console.log(`SAYO reward core benchmark — node ${process.version}, T = ${T}, H = ${H}, N = ${N} (${grid.rows}×${grid.cols}), `
  + `targets ${boxA.length} / ${boxB.length}`);

time('1. computeReward from raw attention (a, v, R_a ∀t + selection + r_v)', RUNS, () =>
  computeReward({ tokens, heads: H, n: N, targets: boxA, entropy }));

const t0 = performance.now();
const maps = tokens.map((a) => headMeanMap64(a, H, N));
const vs = maps.map((m) => avFromMeanMap(m, boxA).v);
const cacheMs = performance.now() - t0;
console.log(`${'   (one-off: head-mean maps + v for all tokens, as tokens stream in)'.padEnd(64)} ${cacheMs.toFixed(3)} ms total, ${(cacheMs / T).toFixed(4)} ms per token`);

time('2. reward + selection from cached maps (a ∀t, selection, r_v)', RUNS * 5, () => {
  const av = maps.map((m, t) => avFromMeanMap(m, boxA, vs[t]));
  return rewardFromAV(av, entropy);
});

let flip = false;
time('3. box edit: boxToTokens + R_a ∀t + r_v from cached maps', RUNS * 5, () => {
  flip = !flip;
  const targets = boxToTokens(flip ? [[300, 100, 700, 500]] : [[100, 50, 1200, 650], [0, 0, 200, 200]], grid);
  const av = maps.map((m, t) => avFromMeanMap(m, targets, vs[t]));
  const ra = av.map(({ a, v }) => scoreRa(a, v));
  return [ra, rewardFromAV(av, entropy)];
});

time('4. box edit from raw attention (no cache): computeReward', RUNS, () =>
  computeReward({ tokens, heads: H, n: N, targets: boxB, entropy }));

time('5. r_v alone from raw attention (selected tokens only)', RUNS, () => {
  const selected = selectTopEntropy(entropy);
  let a = 0;
  let v = 0;
  for (const t of selected) {
    const av = tokenAV(tokens[t], H, N, boxA);
    a += av.a;
    v += av.v;
  }
  return rewardRv(a / selected.length, v / selected.length);
});
