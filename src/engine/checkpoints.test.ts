/**
 * @file The shipped checkpoints through transformers.js's own, unmodified path: in Node, `AutoModelForImageTextToText`
 * (the class of the folder's model_type) + `AutoProcessor` load each folder of models/ and answer held-out
 * questions with `generate({output_attentions, return_dict_in_generate})`, which returns `decoder_attentions` for every generated
 * step. The answers must equal our engine's greedy answers on the same records (one code path, same tokens).
 */
import fs from 'node:fs';
import path from 'node:path';
import { AutoModelForImageTextToText, AutoProcessor, env, RawImage, type Tensor } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { createNodeEngine } from './node.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const HELDOUT = path.join(ROOT, 'data/heldout');
const RECORDS = fs
  .readFileSync(path.join(HELDOUT, 'set.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 4)
  .map((l) => JSON.parse(l));
const MAX_NEW = 12;

describe.each(['sayo-mini-base', 'sayo-mini'])('%s via transformers.js generate()', (id) => {
  it('answers held-out questions with decoder_attentions for every generated step, like the engine', async () => {
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
    const dir = path.join(ROOT, 'models', id);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    // Qwen2/2.5-VL keep the decoder's fields at the top level, Qwen3-VL under text_config.
    const textConfig = config.text_config ?? config;
    expect(Number.isInteger(textConfig.num_hidden_layers) && Number.isInteger(textConfig.num_attention_heads)).toBe(
      true,
    );
    const processor = await AutoProcessor.from_pretrained(dir);
    const model = await AutoModelForImageTextToText.from_pretrained(dir, { dtype: 'fp32' });
    const engine = createNodeEngine();
    const { handle } = await engine.load({ kind: 'path', path: dir });
    try {
      for (const rec of RECORDS) {
        const file = path.join(HELDOUT, rec.image);
        const image = await RawImage.read(file);
        const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: rec.question }] }];
        const text = processor.apply_chat_template(messages, { add_generation_prompt: true }) as string;
        const inputs = await processor(text, image);
        const promptLen = (inputs.input_ids as Tensor).dims[1];
        const out = (await model.generate({
          ...inputs,
          max_new_tokens: MAX_NEW,
          do_sample: false,
          output_attentions: true,
          return_dict_in_generate: true,
        })) as { sequences: Tensor; decoder_attentions: Tensor[][] };
        const ids = Array.from(out.sequences.tolist()[0] as bigint[], Number).slice(promptLen);

        // one entry per generated token, one tensor per layer, each the last row's softmax over every key so far
        expect(out.decoder_attentions).toHaveLength(ids.length);
        out.decoder_attentions.forEach((perLayer, step) => {
          expect(perLayer).toHaveLength(textConfig.num_hidden_layers);
          for (const t of perLayer) {
            const [b, h, q, k] = t.dims;
            expect([b, h]).toEqual([1, textConfig.num_attention_heads]);
            expect(q).toBe(1); // the call's last query row only (models/CONTRACT.md), at prefill too
            expect(k).toBe(promptLen + step);
            const data = t.data as Float32Array;
            const last = data.subarray((q - 1) * k, q * k); // head 0, last query row
            expect(last.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 4);
          }
        });

        const steps: number[] = [];
        const bytes = new Uint8Array(fs.readFileSync(file));
        await engine.generate(
          handle,
          { image: { kind: 'encoded', bytes }, question: rec.question, maxNewTokens: MAX_NEW },
          {
            onStep: (s) => steps.push(s.tokenId),
          },
        );
        expect(ids).toEqual(steps);
      }
    } finally {
      await engine.unload(handle);
      await model.dispose();
    }
  });
});
