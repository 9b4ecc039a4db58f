/**
 * @file Evaluation metrics, exactly as models/CONTRACT.md ("Metrics") defines them for the trainer's report and
 * `sayo eval`: normalised exact match, per-sample mean R_a, r_v over the top-30 % entropy tokens, image-attention
 * share, pointing-game hit, and dataset means. Pure functions over step records; the reward math is src/core/reward.ts.
 */
import { argmax, imageShare, layerIndex } from './aggregate.ts';
import { computeReward, headMeanMap64, type RewardResult } from './reward.ts';

/** ASCII punctuation (Python's string.punctuation), removed by the normalisation. */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
const ARTICLES = /\b(a|an|the)\b/g;

/** Normalise an answer for exact match: lower-case, strip, drop articles a/an/the and punctuation, collapse spaces. */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .trim()
    .replace(ARTICLES, ' ')
    .replace(PUNCTUATION, '')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
}

/** The text inside the last `<answer>…</answer>` of a generation, or the whole text when there is none. */
export function extractAnswer(text: string): string {
  const matches = [...text.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  return matches.length > 0 ? matches[matches.length - 1][1] : text;
}

/** Normalised exact match of the generation's answer against the reference answer. */
export function isCorrect(generation: string, reference: string): boolean {
  return normalizeAnswer(extractAnswer(generation)) === normalizeAnswer(reference);
}

/** The fields of a StepRecord (src/engine/types.ts) the metrics read. */
export interface MetricStep {
  entropy: number;
  layers: number[];
  heads: number;
  n: number;
  attention: Float32Array;
  imageShare: Float32Array;
}

/** One sample's metrics; attention metrics are null when the layer was not captured (or, for box metrics, no box). */
export interface SampleMetrics {
  correct: boolean;
  /** The extracted answer text. */
  prediction: string;
  tokens: number;
  R_a: number | null;
  r_v: number | null;
  imageShare: number | null;
  pointingHit: boolean | null;
}

/** The attention side of one generation on one layer: per-token image shares, reward, and the peak image token. */
export interface AttentionScores {
  /** Per generated token: head-mean share of the full attention row on image tokens. */
  imageShares: number[];
  /** The SAYO reward (per-token a, v, R_a; selection; r_v); null without box tokens. */
  reward: RewardResult | null;
  /** Image token with the largest attention averaged over generated tokens and heads (first on ties). */
  peakToken: number;
}

/**
 * Attention scores of a generation on `layer`; null when the steps did not capture that layer.
 * @param targets box tokens (sorted union, e.g. boxToTokens); empty when there is no box
 */
export function attentionScores(
  steps: readonly MetricStep[],
  layer: number,
  targets: Int32Array,
): AttentionScores | null {
  const captured =
    steps.length > 0 &&
    steps.every((s) => s.layers.includes(layer) && s.attention.length >= s.layers.length * s.heads * s.n);
  if (!captured) return null;
  const { heads, n } = steps[0];
  const imageShares = steps.map((s) => imageShare(s.imageShare, s.layers, s.heads, layer));
  const blocks = steps.map((s) => {
    const offset = layerIndex(s.layers, layer) * heads * n;
    return s.attention.subarray(offset, offset + heads * n);
  });
  const reward =
    targets.length > 0
      ? computeReward({ tokens: blocks, heads, n, targets, entropy: steps.map((s) => s.entropy) })
      : null;
  const map = new Float64Array(n);
  for (const block of blocks) {
    const m = headMeanMap64(block, heads, n);
    for (let k = 0; k < n; k++) map[k] += m[k];
  }
  return { imageShares, reward, peakToken: argmax(map) };
}

/**
 * Metrics of one greedy generation.
 * @param text the generated text
 * @param reference the record's answer
 * @param steps one record per generated token (the final end token included)
 * @param layer the decoder layer to score (the last one)
 * @param targets box tokens (sorted union, e.g. boxToTokens); empty when the record has no box
 */
export function sampleMetrics(
  text: string,
  reference: string,
  steps: readonly MetricStep[],
  layer: number,
  targets: Int32Array,
): SampleMetrics {
  const base = { correct: isCorrect(text, reference), prediction: extractAnswer(text).trim(), tokens: steps.length };
  const scores = attentionScores(steps, layer, targets);
  if (!scores) return { ...base, R_a: null, r_v: null, imageShare: null, pointingHit: null };
  const share = scores.imageShares.reduce((acc, v) => acc + v, 0) / scores.imageShares.length;
  const reward = scores.reward;
  if (!reward) return { ...base, R_a: null, r_v: null, imageShare: share, pointingHit: null };
  const meanRa = reward.perToken.reduce((acc, t) => acc + t.R_a, 0) / reward.perToken.length;
  return { ...base, R_a: meanRa, r_v: reward.r_v, imageShare: share, pointingHit: targets.includes(scores.peakToken) };
}

/** Dataset figures: the mean of each metric over the samples that have it, and how many samples there are. */
export interface DatasetMeans {
  samples: number;
  accuracy: number;
  R_a: number | null;
  r_v: number | null;
  imageShare: number | null;
  pointingHit: number | null;
}

function meanOf(values: Array<number | boolean | null>): number | null {
  const present = values.filter((v): v is number | boolean => v !== null);
  return present.length === 0 ? null : present.reduce<number>((acc, v) => acc + Number(v), 0) / present.length;
}

/** Mean over samples of each metric (accuracy and pointing hit as rates in [0, 1]). */
export function datasetMeans(
  rows: readonly Pick<SampleMetrics, 'correct' | 'R_a' | 'r_v' | 'imageShare' | 'pointingHit'>[],
): DatasetMeans {
  return {
    samples: rows.length,
    accuracy: meanOf(rows.map((r) => r.correct)) ?? 0,
    R_a: meanOf(rows.map((r) => r.R_a)),
    r_v: meanOf(rows.map((r) => r.r_v)),
    imageShare: meanOf(rows.map((r) => r.imageShare)),
    pointingHit: meanOf(rows.map((r) => r.pointingHit)),
  };
}
