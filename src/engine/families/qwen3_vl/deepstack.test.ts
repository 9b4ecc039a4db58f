/**
 * @file Qwen3-VL with DeepStack in the Node engine (onnxruntime-node), on the folder `sayo_train export` writes for a
 * tiny random-weight Qwen3VLForConditionalGeneration with DeepStack after all 3 text layers
 * (lab/support/exports.ts builds it with HF's answer): the greedy answer reproduces HF's prompt ids, tokens and
 * per-token attention over the image (every layer and head) within 1e-4, and teacher-forced scoring of those tokens
 * — whose one prefill call carries the image and so must apply DeepStack too — reproduces the same rows. A Qwen3-VL
 * folder whose config lists DeepStack but whose graphs carry none (another exporter's) still answers, and its info
 * says so with the fix; `sayo eval` and `sayo ask` run on both and print that note.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildExports,
  EXPORT_BUILD_TIMEOUT_MS,
  type Exports,
  type ExportReference,
} from '../../../../lab/support/exports.ts';
import { maxAbsDiff } from '../../../../lab/support/reference.ts';
import { hasStackTrace, runSayo } from '../../../../lab/testutils/run-cli.ts';
import { createNodeEngine } from '../../node.ts';
import type { StepRecord } from '../../types.ts';

let exports: Exports;
let tmp = '';
beforeAll(() => {
  exports = buildExports();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-deepstack-'));
}, EXPORT_BUILD_TIMEOUT_MS);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Tokens equal to `ref`'s and every step's attention row within 1e-4 of HF's; returns the largest |Δ|. */
function expectHf(steps: StepRecord[], ref: ExportReference): number {
  expect(steps.map((s) => s.tokenId)).toEqual(ref.tokens);
  let worst = 0;
  steps.forEach((s, i) => {
    expect(s.layers).toEqual(ref.layers);
    expect(s.heads).toBe(ref.heads);
    worst = Math.max(worst, maxAbsDiff(s.attention, ref.attention[i]));
  });
  expect(worst).toBeLessThanOrEqual(1e-4);
  return worst;
}

/** A copy of an exported folder with config.json's vision_config.deepstack_visual_indexes set to `indexes`. */
function withDeepstackConfig(family: 'qwen3_vl' | 'qwen3_vl_deepstack', indexes: number[]): string {
  const dir = path.join(tmp, `${family}-ds${indexes.join('')}`);
  fs.cpSync(exports.folder(family), dir, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  config.vision_config.deepstack_visual_indexes = indexes;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

describe('Qwen3-VL with DeepStack in the Node engine', () => {
  it('answers and scores as Hugging Face does (prompt ids, greedy tokens, attention ≤ 1e-4 in both)', async () => {
    const ref = exports.reference.qwen3_vl_deepstack;
    const engine = createNodeEngine();
    const info = await engine.load({ kind: 'path', path: exports.folder('qwen3_vl_deepstack') });
    expect(info).toMatchObject({
      modelType: 'qwen3_vl',
      attentionLayers: ref.layers,
      numHeads: ref.heads,
      numLayers: 3,
    });
    expect(info.architectureNote).toBeUndefined();
    const image = { kind: 'encoded' as const, bytes: new Uint8Array(exports.image('qwen3_vl_deepstack')) };
    const steps: StepRecord[] = [];
    let inputIds: number[] | undefined;
    await engine.generate(
      info.handle,
      { image, question: ref.question, maxNewTokens: ref.tokens.length },
      {
        onPrompt: (p) => void (inputIds = p.inputIds),
        onStep: (s) => void steps.push(s),
      },
    );
    expect(inputIds).toEqual(ref.inputIds);
    const generated = expectHf(steps, ref);
    const scored: StepRecord[] = [];
    await engine.score(
      info.handle,
      { image, question: ref.question, answer: '', answerTokenIds: ref.tokens },
      { onStep: (s) => void scored.push(s) },
    );
    const scoredHf = expectHf(scored, ref);
    // The same call sequence as generation: the rows are the greedy run's, bit for bit or nearly.
    const vsGreedy = Math.max(...scored.map((s, i) => maxAbsDiff(s.attention, steps[i].attention)));
    expect(vsGreedy).toBeLessThanOrEqual(1e-6);
    await engine.unload(info.handle);
    console.log(
      `qwen3_vl DeepStack [0,1,2], Node engine: ${steps.length} tokens equal to HF's; attention max |Δ| ${generated.toExponential(1)} ` +
        `(scored ${scoredHf.toExponential(1)}, scored vs greedy ${vsGreedy.toExponential(1)}) over ${ref.layers.length} layers × ${ref.heads} heads × ${ref.imageSpan.length} image tokens`,
    );
  });

  it('says a folder whose config lists DeepStack but whose graphs carry none runs without it, with the fix, and still answers', async () => {
    const engine = createNodeEngine();
    const plain = await engine.load({ kind: 'path', path: exports.folder('qwen3_vl') });
    expect(plain.architectureNote).toBeUndefined(); // Qwen3-VL with deepstack_visual_indexes: [] needs no blocks
    const without = await engine.load({ kind: 'path', path: withDeepstackConfig('qwen3_vl', [0, 1, 2]) });
    expect(without.architectureNote).toMatch(
      /^This model runs without DeepStack: .*deepstack_visual_indexes \[0,1,2\].*not the model's.*`python -m sayo_train export <checkpoint> --out <folder>`/,
    );
    const image = { kind: 'encoded' as const, bytes: new Uint8Array(exports.image('qwen3_vl')) };
    const steps: StepRecord[] = [];
    await engine.generate(
      without.handle,
      { image, question: 'Where is the red circle?', maxNewTokens: 2 },
      { onStep: (s) => void steps.push(s) },
    );
    // Same graphs as the plain folder: the same answer, now flagged.
    expect(steps.map((s) => s.tokenId)).toEqual(exports.reference.qwen3_vl.tokens.slice(0, 2));
    // Blocks for 3 features, a config that lists 1: a different mismatch, named with the widths.
    const fewer = await engine.load({ kind: 'path', path: withDeepstackConfig('qwen3_vl_deepstack', [0]) });
    expect(fewer.architectureNote).toMatch(
      /image_features 256, embed_tokens 256, decoder 256\) are not the 128 columns .*DeepStack \[0\].*sayo_train export/,
    );
    for (const m of [plain, without, fewer]) await engine.unload(m.handle);
  });
});

describe('sayo eval and sayo ask on Qwen3-VL folders with DeepStack', () => {
  it('eval runs a small set on the DeepStack folder; eval and ask name a folder without its DeepStack features', () => {
    const ref = exports.reference.qwen3_vl_deepstack;
    const image = path.join(exports.dir, 'qwen3_vl_deepstack.png');
    const data = path.join(tmp, 'set.jsonl');
    const rows = [
      { image, question: ref.question, answer: 'left', boxes: [[0, 0, 64, 64]] },
      { image, question: 'What color is the circle?', answer: 'red', boxes: [[32, 32, 96, 96]] },
    ];
    fs.writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const out = path.join(tmp, 'eval-ds');
    const run = runSayo([
      'eval',
      '--model',
      exports.folder('qwen3_vl_deepstack'),
      '--data',
      data,
      '--max-new-tokens',
      '4',
      '--out',
      out,
    ]);
    expect(hasStackTrace(run.stderr)).toBe(false);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/DeepStack/);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.rows).toHaveLength(2);
    // The first record is the reference prompt: greedy, so the answer is HF's tokens.
    expect(results.rows[0].tokens).toBe(ref.tokens.length);
    for (const row of results.rows) {
      expect(row.R_a).toBeGreaterThanOrEqual(0);
      expect(row.R_a).toBeLessThanOrEqual(1);
      expect(row.imageShare).toBeGreaterThan(0);
    }

    const without = withDeepstackConfig('qwen3_vl', [0, 1, 2]);
    const flagged = runSayo([
      'eval',
      '--model',
      without,
      '--data',
      data,
      '--limit',
      '1',
      '--max-new-tokens',
      '2',
      '--out',
      path.join(tmp, 'eval-without'),
    ]);
    expect(flagged.status, flagged.stderr).toBe(0);
    expect(flagged.stderr).toMatch(/This model runs without DeepStack: .*sayo_train export/);
    const ask = runSayo([
      'ask',
      '--model',
      without,
      '--image',
      image,
      '--question',
      ref.question,
      '--max-new-tokens',
      '2',
      '--json',
    ]);
    expect(ask.status, ask.stderr).toBe(0);
    expect(JSON.parse(ask.stdout).architectureNote).toMatch(/runs without DeepStack/);
    expect(ask.stderr).toMatch(/runs without DeepStack/);
  });
});
