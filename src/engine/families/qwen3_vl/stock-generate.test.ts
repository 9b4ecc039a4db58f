/**
 * @file A DeepStack export runs in anyone's transformers.js app: stock `Qwen3VLForConditionalGeneration.generate()`
 * (@huggingface/transformers, unmodified, onnxruntime-node), with `AutoProcessor`, greedy, `output_attentions`, on
 * the folder `sayo_train export` writes for a tiny random-weight Qwen3-VL with DeepStack after all 3 text layers
 * (e2e/support/exports.ts), reproduces Hugging Face's prompt ids, greedy tokens and per-token attention over the
 * image. No engine code of ours runs here: transformers.js merges the image rows, DeepStack column blocks and all, into
 * the embedding rows of the image tokens. Control: the same run with the vision graph's DeepStack blocks zeroed (what
 * the decoder sees from a tower without DeepStack) moves the attention far outside the tolerance, so the comparison
 * sees DeepStack.
 */
import path from 'node:path';
import { AutoProcessor, env, Qwen3VLForConditionalGeneration, RawImage } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExports, EXPORT_BUILD_TIMEOUT_MS, type Exports, type ExportReference } from '../../../../e2e/support/exports.ts';

let exports: Exports;
beforeAll(() => {
  exports = buildExports();
}, EXPORT_BUILD_TIMEOUT_MS);

interface StockAnswer {
  inputIds: number[];
  tokens: number[];
  /** Per generated token, the StepRecord layout: [(layer · heads + head) · n + k] over the image span. */
  attention: number[][];
}

/**
 * transformers.js's own generate() on the folder, greedy, `max_new_tokens` = the reference's, returning the last
 * query row of each call's `decoder_attentions.<l>` over the image span. `zeroDeepstack` zeroes image_features'
 * blocks 1…K as the vision session returns them.
 */
async function stockGenerate(folder: string, image: string, ref: ExportReference, zeroDeepstack = false): Promise<StockAnswer> {
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  const processor = await AutoProcessor.from_pretrained(folder);
  const model = (await Qwen3VLForConditionalGeneration.from_pretrained(folder, { dtype: 'fp32', device: 'cpu' })) as any;
  try {
    if (zeroDeepstack) {
      const vision = model.sessions.vision_encoder;
      const run = vision.run.bind(vision);
      const hidden = model.config.text_config.hidden_size;
      vision.run = async (...a: unknown[]) => {
        const out = await run(...a);
        const f = out.image_features;
        const width = f.dims[1];
        for (let r = 0; r < f.dims[0]; r++) f.data.fill(0, r * width + hidden, (r + 1) * width);
        return out;
      };
    }
    const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: ref.question }] }];
    const text = processor.apply_chat_template(messages as any, { add_generation_prompt: true }) as string;
    const inputs = await processor(text, await RawImage.read(image));
    const inputIds = Array.from(inputs.input_ids.data as BigInt64Array, Number);
    const out = await model.generate({
      ...inputs,
      max_new_tokens: ref.tokens.length,
      do_sample: false,
      output_attentions: true,
      return_dict_in_generate: true,
    });
    const sequence = Array.from(out.sequences.data as BigInt64Array, Number);
    const { start, length } = ref.imageSpan;
    const attention = (out.decoder_attentions as any[][]).map((layers) => {
      const row: number[] = [];
      for (const t of layers) {
        const [, heads, q, kv] = t.dims;
        for (let h = 0; h < heads; h++) {
          const base = (h * q + q - 1) * kv;
          row.push(...(t.data as Float32Array).subarray(base + start, base + start + length));
        }
      }
      return row;
    });
    return { inputIds, tokens: sequence.slice(inputIds.length), attention };
  } finally {
    await model.dispose();
  }
}

function worstDiff(got: number[][], want: number[][]): number {
  expect(got.map((r) => r.length)).toEqual(want.map((r) => r.length));
  return Math.max(...got.flatMap((r, i) => r.map((v, k) => Math.abs(v - want[i][k]))));
}

describe("stock transformers.js generate() on a DeepStack export", () => {
  it("reproduces Hugging Face's prompt ids, greedy tokens and attention (≤ 1e-4); with DeepStack zeroed it does not", async () => {
    const ref = exports.reference.qwen3_vl_deepstack;
    const folder = exports.folder('qwen3_vl_deepstack');
    const image = path.join(exports.dir, 'qwen3_vl_deepstack.png');
    const stock = await stockGenerate(folder, image, ref);
    expect(stock.inputIds).toEqual(ref.inputIds);
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
