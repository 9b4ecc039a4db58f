/**
 * @file A DeepStack export runs in anyone's transformers.js app: stock `Qwen3VLForConditionalGeneration.generate()`
 * (@huggingface/transformers, unmodified, onnxruntime-node), with `AutoProcessor`, greedy, `output_attentions`, on
 * the folder `sayo_train export` writes for a tiny random-weight Qwen3-VL with DeepStack after all 3 text layers
 * (lab/support/exports.ts), reproduces Hugging Face's prompt ids, greedy tokens and per-token attention over the
 * image. No engine code of ours runs here: transformers.js merges the image rows, DeepStack column blocks and all, into
 * the embedding rows of the image tokens. Control: the same run with the vision graph's DeepStack blocks zeroed (what
 * the decoder sees from a tower without DeepStack) moves the attention far outside the tolerance, so the comparison
 * sees DeepStack.
 */
import path from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { transformersJs, type TjsAnswer } from '../../../../lab/support/tjs-generate.ts';
import {
  buildExports,
  EXPORT_BUILD_TIMEOUT_MS,
  type Exports,
  type ExportReference,
} from '../../../../lab/support/exports.ts';

let exports: Exports;
beforeAll(() => {
  exports = buildExports();
}, EXPORT_BUILD_TIMEOUT_MS);

/**
 * transformers.js's own generate() on the folder (the benchmark's runner, lab/support/tjs-generate.ts: AutoProcessor, the
 * chat template, greedy), with `output_attentions`. `zeroDeepstack` zeroes image_features' blocks 1…K as the vision
 * session returns them.
 */
async function stockGenerate(
  folder: string,
  image: string,
  ref: ExportReference,
  zeroDeepstack = false,
): Promise<TjsAnswer> {
  const runner = await transformersJs(folder, { dtype: 'fp32', device: 'cpu' });
  try {
    expect(runner.model.constructor.name).toBe('Qwen3VLForConditionalGeneration');
    if (zeroDeepstack) {
      const vision = runner.model.sessions.vision_encoder;
      const run = vision.run.bind(vision);
      const hidden = runner.model.config.text_config.hidden_size;
      vision.run = async (...a: unknown[]) => {
        const out = await run(...a);
        const f = out.image_features;
        const width = f.dims[1];
        for (let r = 0; r < f.dims[0]; r++) f.data.fill(0, r * width + hidden, (r + 1) * width);
        return out;
      };
    }
    const figures = await runner.run(await RawImage.read(image), ref.question, ref.tokens.length, true, true);
    return figures.answer!;
  } finally {
    await runner.dispose();
  }
}

function worstDiff(got: number[][], want: number[][]): number {
  expect(got.map((r) => r.length)).toEqual(want.map((r) => r.length));
  return Math.max(...got.flatMap((r, i) => r.map((v, k) => Math.abs(v - want[i][k]))));
}

describe('stock transformers.js generate() on a DeepStack export', () => {
  it("reproduces Hugging Face's prompt ids, greedy tokens and attention (≤ 1e-4); with DeepStack zeroed it does not", async () => {
    const ref = exports.reference.qwen3_vl_deepstack;
    const folder = exports.folder('qwen3_vl_deepstack');
    const image = path.join(exports.dir, 'qwen3_vl_deepstack.png');
    const stock = await stockGenerate(folder, image, ref);
    expect(stock.inputIds).toEqual(ref.inputIds);
    expect(stock.imageSpan).toEqual(ref.imageSpan);
    expect(stock.tokens).toEqual(ref.tokens);
    expect(stock.attention).toHaveLength(ref.tokens.length);
    const worst = worstDiff(stock.attention, ref.attention);
    expect(worst).toBeLessThanOrEqual(1e-4);

    const zeroed = await stockGenerate(folder, image, ref, true);
    expect(zeroed.inputIds).toEqual(ref.inputIds);
    const steps = Math.min(zeroed.tokens.length, ref.tokens.length);
    const control = worstDiff(zeroed.attention.slice(0, steps), ref.attention.slice(0, steps));
    expect(control).toBeGreaterThan(1e-2);
    console.log(
      `qwen3_vl DeepStack [0,1,2], stock transformers.js generate(): ${stock.tokens.length} tokens equal to HF's, attention max |Δ| ${worst.toExponential(1)}; ` +
        `DeepStack blocks zeroed: tokens ${JSON.stringify(zeroed.tokens)} vs HF ${JSON.stringify(ref.tokens)}, attention max |Δ| ${control.toExponential(1)}`,
    );
  });
});
