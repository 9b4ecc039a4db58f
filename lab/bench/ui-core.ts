/**
 * @file The box-edit path's maths at Qwen2-VL-2B's shape in Node (`npx tsx lab/bench/ui-core.ts`): 28 layers × 12 heads,
 * 1,300 image tokens, 32 tokens. Times the layers × heads R_a matrix over all tokens from the raw attention (one
 * tokenAV per token and head, as the head matrix did before) against RewardCache.headRa, and the reward at one layer
 * from the raw attention (computeReward) against RewardCache.reward. Printed, never asserted.
 */
import { Command } from 'commander';
import { RewardCache } from '../../src/core/cache.ts';
import { boxToTokens, type Grid } from '../../src/core/geometry.ts';
import { computeReward, scoreRa, tokenAV } from '../../src/core/reward.ts';
import { makeSession } from '../testutils/session.ts';
import { median } from '../support/stats.ts';

new Command('npx tsx lab/bench/ui-core.ts')
  .description(
    "The box-edit path's maths at Qwen2-VL-2B's shape in Node (28 layers × 12 heads, 1,300 image tokens, 32 tokens): raw attention against RewardCache. Printed, never asserted.",
  )
  .parse();

const L = 28;
const H = 12;
const T = 32;
const rows = 26;
const cols = 50;
const n = rows * cols;
const steps = makeSession({
  rows,
  cols,
  layers: Array.from({ length: L }, (_, l) => l),
  heads: H,
  tokens: T,
  width: 1400,
  height: 728,
  seed: 3,
}).panels[0].steps;
const grid: Grid = {
  rows,
  cols,
  cell: 28,
  resized: { width: cols * 28, height: rows * 28 },
  image: { width: 1400, height: 728 },
};
const boxes: [number, number, number, number][] = [
  [300, 150, 700, 450],
  [310, 150, 710, 450],
];
const targets = boxes.map((b) => boxToTokens([b], grid));
const entropy = steps.map((s) => s.entropy);
const all = steps.map((_, t) => t);

function time(label: string, runs: number, fn: (i: number) => unknown): void {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn(i);
    ms.push(performance.now() - t0);
  }
  console.log(`${label.padEnd(72)} median ${median(ms).toFixed(3)} ms (${runs} runs)`);
}

/** The head matrix from the raw attention: a and v of every token, layer and head, then scored. */
function rawMatrix(tg: Int32Array): Float32Array {
  const lh = L * H;
  const a = new Float64Array(lh);
  const v = new Float64Array(lh);
  for (const st of steps) {
    for (let i = 0; i < lh; i++) {
      const av = tokenAV(st.attention, 1, n, tg, i * n);
      a[i] += av.a;
      v[i] += av.v;
    }
  }
  return Float32Array.from({ length: lh }, (_, i) => scoreRa(a[i] / T, v[i] / T));
}

console.log(
  `box-edit maths, node ${process.version}: ${L} layers × ${H} heads, n = ${n}, T = ${T}, box of ${targets[0].length} cells`,
);
const fill0 = performance.now();
const cache = new RewardCache(n, L);
for (const st of steps) cache.add(st.attention, H);
console.log(
  `${'(one-off: RewardCache.add of every token)'.padEnd(72)} ${(performance.now() - fill0).toFixed(1)} ms total`,
);
const first0 = performance.now();
cache.headRa(targets[0], all);
console.log(
  `${'(one-off: the first headRa over all tokens builds the summed capture)'.padEnd(72)} ${(performance.now() - first0).toFixed(1)} ms`,
);
time('head matrix, all tokens, from the raw attention (tokenAV per token and head)', 5, (i) =>
  rawMatrix(targets[i % 2]),
);
time('head matrix, all tokens, RewardCache.headRa', 50, (i) => cache.headRa(targets[i % 2], all));
time('reward at the last layer from the raw attention (computeReward)', 20, (i) =>
  computeReward({
    tokens: steps.map((s) => s.attention.subarray((L - 1) * H * n, L * H * n)),
    heads: H,
    n,
    targets: targets[i % 2],
    entropy,
  }),
);
cache.reward(targets[0], entropy, { layer: L - 1 });
time('reward at the last layer, RewardCache.reward', 50, (i) =>
  cache.reward(targets[i % 2], entropy, { layer: L - 1 }),
);
let maxDiff = 0;
const fast = cache.headRa(targets[0], all);
const slow = rawMatrix(targets[0]);
for (let i = 0; i < fast.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fast[i] - slow[i]));
console.log(`max |headRa − raw matrix| = ${maxDiff.toExponential(2)}`);
