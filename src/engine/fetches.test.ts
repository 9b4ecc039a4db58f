/**
 * @file The decoder session fetches only the attention outputs a run captures (generate.ts `fetchingOnly`): on the
 * shipped SAYO-mini through transformers.js's own forward(), the outputs are logits, present.* and exactly the
 * requested decoder_attentions — with the same logits as a run that fetches everything — and the session's run()
 * is restored afterwards.
 */
import path from 'node:path';
import { AutoModelForImageTextToText, AutoProcessor, env, RawImage, type Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchingOnly } from './generate.ts';
import type { LoadedModel } from './loaded.ts';

const DIR = path.resolve(import.meta.dirname, '../../models/sayo-mini');

describe('fetchingOnly', () => {
  let model: any;
  let inputs: Record<string, any>;
  beforeAll(async () => {
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
    const processor = await AutoProcessor.from_pretrained(DIR);
    model = await AutoModelForImageTextToText.from_pretrained(DIR, { dtype: 'fp32' });
    const image = await RawImage.read(path.resolve(import.meta.dirname, '../../public/samples/sample-01.png'));
    const messages = [
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What shape is the blue object?' }] },
    ];
    const p = await processor(
      processor.apply_chat_template(messages, { add_generation_prompt: true }) as string,
      image,
    );
    const ids = (p.input_ids as Tensor).tolist() as bigint[][];
    inputs = model.prepare_inputs_for_generation(ids, { ...p }, model.generation_config);
  });
  afterAll(async () => model?.dispose());

  const names = (o: Record<string, unknown>) =>
    Object.keys(o)
      .filter((k) => k.startsWith('decoder_attentions.'))
      .sort();

  it('returns only the captured layers, the same logits, and restores run()', async () => {
    const session = model.sessions.decoder_model_merged;
    const run = session.run;
    const all = await model.forward(inputs);
    expect(names(all)).toEqual([
      'decoder_attentions.0',
      'decoder_attentions.1',
      'decoder_attentions.2',
      'decoder_attentions.3',
    ]);
    const m = { model } as unknown as LoadedModel;
    const last: any = await fetchingOnly(m, [{ name: 'decoder_attentions.3', layer: 3 }], () => model.forward(inputs));
    expect(names(last)).toEqual(['decoder_attentions.3']);
    expect(Object.keys(last).filter((k) => k.startsWith('present.'))).toHaveLength(8);
    expect(Array.from(last.logits.data as Float32Array)).toEqual(Array.from(all.logits.data as Float32Array));
    expect(Array.from(last['decoder_attentions.3'].data as Float32Array)).toEqual(
      Array.from(all['decoder_attentions.3'].data as Float32Array),
    );
    const none: any = await fetchingOnly(m, [], () => model.forward(inputs));
    expect(names(none)).toEqual([]);
    expect(session.run).toBe(run);
  });
});
