/**
 * @file The Node engine on the real embedded models (onnxruntime-node): streaming, capture invariants, prompt parity
 * with the trainer's fixtures, teacher-forced scoring reproducing generation, seeded sampling, cancel.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeEngine } from './node.ts';
import type { ImageInput, ModelInfo, PromptInfo, StepRecord } from './types.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const png = (rel: string): ImageInput => ({
  kind: 'encoded',
  bytes: new Uint8Array(fs.readFileSync(path.join(ROOT, rel))),
});
const SAMPLE = png('public/samples/sample-01.png');
const QUESTION = 'What shape is the blue object?';

const engine = createNodeEngine();
let info: ModelInfo;

beforeAll(async () => {
  info = await engine.load({ kind: 'registry', id: 'sayo-mini' });
});

async function generate(maxNewTokens: number, extra: Record<string, unknown> = {}) {
  const steps: StepRecord[] = [];
  let prompt: PromptInfo | undefined;
  const summary = await engine.generate(
    info.handle,
    { image: SAMPLE, question: QUESTION, maxNewTokens, ...extra },
    { onPrompt: (p) => (prompt = p), onStep: (s) => steps.push(s) },
  );
  return { steps, prompt: prompt!, summary };
}

describe('node engine on SAYO-mini', () => {
  it("reports the model as its checkpoint declares it: CPU backend, every layer exposed, the processor's cell size", () => {
    const dir = path.join(ROOT, 'models/sayo-mini');
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const pre = JSON.parse(fs.readFileSync(path.join(dir, 'preprocessor_config.json'), 'utf8'));
    const text = config.text_config ?? config;
    expect(info.backend).toBe('cpu');
    expect(info.modelType).toBe(config.model_type);
    expect(info.numLayers).toBe(text.num_hidden_layers);
    expect(info.attentionLayers).toEqual(Array.from({ length: text.num_hidden_layers }, (_, i) => i));
    expect(info.cellSize).toBe(pre.patch_size * pre.merge_size);
    expect(info.attentionNote).toBeUndefined();
    // The shipped export carries every DeepStack block its config names, so the engine has nothing to warn about.
    expect(info.architectureNote).toBeUndefined();
  });

  it('streams one step per token with attention that sums to 1', async () => {
    const { steps, prompt, summary } = await generate(12);
    expect(summary.tokens).toBe(steps.length);
    expect(steps.length).toBeGreaterThan(0);
    const n = prompt.grid.rows * prompt.grid.cols;
    expect(prompt.imageSpan.length).toBe(n);
    steps.forEach((s, i) => {
      expect(s.index).toBe(i);
      expect(s.n).toBe(n);
      expect(s.layers).toEqual(info.attentionLayers);
      expect(s.attention.length).toBe(s.layers.length * s.heads * n);
      expect(Number.isFinite(s.entropy) && s.entropy >= 0).toBe(true);
      for (const r of s.rowSum) expect(Math.abs(r - 1)).toBeLessThan(1e-4);
      for (const share of s.imageShare) expect(share).toBeGreaterThanOrEqual(0);
      for (let lh = 0; lh < s.layers.length * s.heads; lh++) {
        let img = 0;
        for (let k = 0; k < n; k++) img += s.attention[lh * n + k];
        expect(Math.abs(img / s.rowSum[lh] - s.imageShare[lh])).toBeLessThan(1e-5);
      }
    });
    expect(['eos', 'max_tokens']).toContain(summary.stoppedBy);
  });

  it('builds the same prompt ids as the trainer (fixtures/prompt-cases.json)', async () => {
    const cases = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/prompt-cases.json'), 'utf8')) as Array<{
      question: string;
      image: string;
      image_grid_thw: number[];
      input_ids: number[];
    }>;
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      let prompt: PromptInfo | undefined;
      await engine.generate(
        info.handle,
        { image: png(c.image), question: c.question, maxNewTokens: 1 },
        { onPrompt: (p) => (prompt = p) },
      );
      expect(prompt!.gridThw).toEqual(c.image_grid_thw);
      expect(prompt!.inputIds).toEqual(c.input_ids);
    }
  });

  it('names question words the small vocabulary splits into pieces', async () => {
    let words: string[] = [];
    await engine.generate(
      info.handle,
      { image: SAMPLE, question: 'What shape is the xylophone?', maxNewTokens: 1 },
      {
        onPrompt: (p) => (words = p.unknownWords),
      },
    );
    expect(words).toEqual(['xylophone']);
  });

  it('score() of the generated tokens reproduces the generated steps', async () => {
    const gen = await generate(10);
    const scored: StepRecord[] = [];
    const summary = await engine.score(
      info.handle,
      { image: SAMPLE, question: QUESTION, answer: '', answerTokenIds: gen.steps.map((s) => s.tokenId) },
      { onStep: (s) => scored.push(s) },
    );
    expect(summary.tokens).toBe(gen.steps.length);
    scored.forEach((s, t) => {
      const g = gen.steps[t];
      expect(s.tokenId).toBe(g.tokenId);
      expect(Math.abs(s.entropy - g.entropy)).toBeLessThan(1e-4);
      let maxDiff = 0;
      for (let i = 0; i < g.attention.length; i++)
        maxDiff = Math.max(maxDiff, Math.abs(s.attention[i] - g.attention[i]));
      expect(maxDiff).toBeLessThan(1e-4);
    });
  });

  it('score() of answer text appends the end-of-turn token', async () => {
    const steps: StepRecord[] = [];
    const summary = await engine.score(
      info.handle,
      { image: SAMPLE, question: QUESTION, answer: 'diamond' },
      { onStep: (s) => steps.push(s) },
    );
    expect(summary.stoppedBy).toBe('eos');
    expect(steps.at(-1)!.text).toBe('<|im_end|>');
    expect(summary.text).toBe('diamond');
  });

  it('captures only the requested layers', async () => {
    const last = info.attentionLayers.at(-1)!;
    const one = await generate(2, { captureLayers: [last] });
    expect(one.steps[0].layers).toEqual([last]);
    expect(one.steps[0].attention.length).toBe(one.steps[0].heads * one.steps[0].n);
    const none = await generate(2, { captureLayers: [] });
    expect(none.steps[0].attention.length).toBe(0);
    expect(none.steps.map((s) => s.tokenId)).toEqual(one.steps.map((s) => s.tokenId));
  });

  it('samples reproducibly with a seed', async () => {
    const sampling = { temperature: 1.5, seed: 7 };
    const a = await generate(8, { sampling });
    const b = await generate(8, { sampling });
    expect(a.steps.map((s) => s.tokenId)).toEqual(b.steps.map((s) => s.tokenId));
    const c = await generate(8, { sampling: { temperature: 1.5, seed: 8 } });
    const d = await generate(8, { sampling: { temperature: 1.5, seed: 9 } });
    const seqs = new Set([a, c, d].map((r) => r.steps.map((s) => s.tokenId).join(',')));
    expect(seqs.size).toBeGreaterThan(1);
  });

  it('stops mid-answer when cancelled, and stays usable', async () => {
    const ctrl = new AbortController();
    const steps: StepRecord[] = [];
    const summary = await engine.generate(
      info.handle,
      { image: SAMPLE, question: QUESTION, maxNewTokens: 50, sampling: { temperature: 5, seed: 1 } },
      { onStep: (s) => (steps.push(s), steps.length === 3 && ctrl.abort()) },
      ctrl.signal,
    );
    expect(summary.stoppedBy).toBe('cancel');
    expect(steps).toHaveLength(3);
    expect((await generate(2)).steps).toHaveLength(2);
  });

  it('a Stop before the first token cancels cleanly with an empty answer', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const summary = await engine.generate(
      info.handle,
      { image: SAMPLE, question: QUESTION, maxNewTokens: 5 },
      {},
      ctrl.signal,
    );
    expect(summary).toMatchObject({ stoppedBy: 'cancel', tokens: 0, text: '' });
    expect((await generate(1)).steps).toHaveLength(1);
  });
});
