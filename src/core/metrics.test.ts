/**
 * @file The evaluation metrics of models/CONTRACT.md on hand-computed cases: normalisation, answer extraction,
 * per-sample R_a mean, r_v over the top-30 % entropy tokens, image share, pointing hit and dataset means.
 */
import { describe, expect, it } from 'vitest';
import { datasetMeans, extractAnswer, isCorrect, normalizeAnswer, sampleMetrics, type MetricStep } from './metrics.ts';

describe('answer normalisation and extraction', () => {
  it('lower-cases, strips, drops articles and punctuation, collapses white space', () => {
    expect(normalizeAnswer('  The Red  Circle. ')).toBe('red circle');
    expect(normalizeAnswer('An apple, a day!')).toBe('apple day');
    expect(normalizeAnswer('theater')).toBe('theater');
    expect(normalizeAnswer('')).toBe('');
  });

  it('reads the last <answer> block, or the whole text without one', () => {
    expect(extractAnswer('I see <answer>blue</answer> and <answer>Red </answer><|im_end|>')).toBe('Red ');
    expect(extractAnswer('just red')).toBe('just red');
    expect(isCorrect('the thing is <answer>The red.</answer>', 'red')).toBe(true);
    expect(isCorrect('<answer>blue</answer>', 'red')).toBe(false);
  });
});

/** One step over n = 4 image tokens, 2 heads, layers [0, 1]; layer 0 is noise that must be ignored. */
function step(entropy: number, last: number[], shares: [number, number]): MetricStep {
  return {
    entropy,
    layers: [0, 1],
    heads: 2,
    n: 4,
    attention: Float32Array.from([0.9, 0, 0, 0, 0.9, 0, 0, 0, ...last]),
    imageShare: Float32Array.from([0.01, 0.01, ...shares]),
  };
}

describe('sampleMetrics', () => {
  // Targets {2}: token a = mean over heads of attention on token 2; v = head mean of the mean over all 4.
  const steps = [
    step(0.1, [0.1, 0.1, 0.2, 0.0, 0.0, 0.2, 0.2, 0.0], [0.4, 0.6]), // a = 0.2, v = 0.1
    step(2.0, [0.0, 0.0, 0.4, 0.0, 0.0, 0.0, 0.4, 0.0], [0.5, 0.3]), // a = 0.4, v = 0.1
    step(0.5, [0.3, 0.1, 0.0, 0.0, 0.3, 0.1, 0.0, 0.0], [0.2, 0.2]), // a = 0,   v = 0.1
  ];
  const ra = (a: number, v: number) => 0.5 * (1 + Math.tanh(Math.log((a + 1e-8) / (v + 1e-8))));

  it('follows the contract on the last layer', () => {
    const m = sampleMetrics('<answer>Red</answer>', 'red', steps, 1, Int32Array.from([2]));
    expect(m.correct).toBe(true);
    expect(m.prediction).toBe('Red');
    expect(m.tokens).toBe(3);
    expect(m.R_a).toBeCloseTo((ra(0.2, 0.1) + ra(0.4, 0.1) + ra(0, 0.1)) / 3, 6);
    // k = max(1, ⌊0.3·3⌋) = 1: the highest-entropy token is step 1.
    expect(m.r_v).toBeCloseTo(Math.tanh(Math.log((0.4 + 1e-8) / (0.1 + 1e-8))), 6);
    expect(m.imageShare).toBeCloseTo((0.5 + 0.4 + 0.2) / 3, 6);
    // Mean map over tokens and heads: token 2 gets (0.2+0.4+0)/3 = 0.2, token 0 gets (0.05+0+0.3)/3 ≈ 0.117.
    expect(m.pointingHit).toBe(true);
    expect(sampleMetrics('x', 'red', steps, 1, Int32Array.from([0])).pointingHit).toBe(false);
  });

  it('gives null attention metrics when the layer was not captured, and no box metrics without a box', () => {
    const none = sampleMetrics('red', 'red', steps, 5, Int32Array.from([2]));
    expect(none).toMatchObject({ correct: true, R_a: null, r_v: null, imageShare: null, pointingHit: null });
    const noBox = sampleMetrics('red', 'red', steps, 1, new Int32Array(0));
    expect(noBox.R_a).toBeNull();
    expect(noBox.imageShare).toBeCloseTo(0.3667, 3);
  });
});

describe('datasetMeans', () => {
  it('averages each metric over the samples that have it', () => {
    const means = datasetMeans([
      { correct: true, R_a: 0.8, r_v: 0.5, imageShare: 0.4, pointingHit: true },
      { correct: false, R_a: 0.4, r_v: -0.1, imageShare: 0.2, pointingHit: false },
      { correct: false, R_a: null, r_v: null, imageShare: null, pointingHit: null },
    ]);
    expect(means.samples).toBe(3);
    expect(means.accuracy).toBeCloseTo(1 / 3, 12);
    expect(means.R_a).toBeCloseTo(0.6, 12);
    expect(means.r_v).toBeCloseTo(0.2, 12);
    expect(means.imageShare).toBeCloseTo(0.3, 12);
    expect(means.pointingHit).toBe(0.5);
  });
});
