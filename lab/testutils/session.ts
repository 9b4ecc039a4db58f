/**
 * @file Deterministic sessions for tests (seeded LCG, no Math.random): used by the session, chart and export tests.
 */
import { randomLcg } from 'd3';
import type { StepRecord } from '../../src/engine/types.ts';
import type { LensSession, SessionPanel, Side } from '../../src/session/types.ts';
import { solidBmpDataUrl } from '../../src/session/image-header.ts';

/** Options of {@link makeSession}. */
export interface FixtureOptions {
  seed?: number;
  rows?: number;
  cols?: number;
  layers?: number[];
  heads?: number;
  tokens?: number;
  width?: number;
  height?: number;
}

/** A panel with `tokens` steps of random softmax-like attention rows over a rows × cols grid. */
export function makePanel(side: Side, o: Required<FixtureOptions>): SessionPanel {
  const rand = randomLcg(o.seed + (side === 'trained' ? 1 : 0));
  const n = o.rows * o.cols;
  const lh = o.layers.length * o.heads;
  const steps: StepRecord[] = [];
  for (let t = 0; t < o.tokens; t++) {
    const attention = new Float32Array(lh * n);
    for (let row = 0; row < lh; row++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += attention[row * n + k] = rand() ** 4;
      for (let k = 0; k < n; k++) attention[row * n + k] *= 0.6 / sum;
    }
    steps.push({
      index: t,
      tokenId: 100 + t,
      text: t === 0 ? 'A' : ` w${t}`,
      entropy: rand() * 3,
      layers: o.layers,
      heads: o.heads,
      n,
      attention,
      imageShare: new Float32Array(lh).fill(0.6),
      rowSum: new Float32Array(lh).fill(1),
    });
  }
  return {
    side,
    modelId: `sayo-mini-${side}`,
    modelName: `SAYO-mini ${side}`,
    source: 'generate',
    prompt: {
      image: { width: o.width, height: o.height },
      resized: { width: o.cols * 28, height: o.rows * 28 },
      gridThw: [1, o.rows * 2, o.cols * 2],
      grid: { rows: o.rows, cols: o.cols },
      imageSpan: { start: 5, length: n },
      promptTokens: n + 20,
      unknownWords: [],
    },
    steps,
    summary: {
      tokens: o.tokens,
      stoppedBy: 'eos',
      text: steps.map((s) => s.text).join(''),
      prefillMs: 12.5,
      decodeMs: 40,
    },
  };
}

/** A deterministic two-panel session (base + trained). */
export function makeSession(options: FixtureOptions = {}): LensSession {
  const o: Required<FixtureOptions> = {
    seed: 1,
    rows: 3,
    cols: 4,
    layers: [0, 1],
    heads: 2,
    tokens: 3,
    width: 120,
    height: 90,
    ...options,
  };
  return {
    version: 1,
    createdAt: '2026-11-24T04:00:00.000Z',
    question: 'What colour is the cup?',
    image: { name: 'cup.bmp', width: o.width, height: o.height, dataUrl: solidBmpDataUrl(o.width, o.height) },
    boxes: [[10, 20, 60, 70]],
    panels: [makePanel('base', o), makePanel('trained', o)],
    view: { token: 0, layer: 1, head: { kind: 'mean' }, norm: 'image', opacity: 0.6, colorBy: 'ra' },
  };
}
