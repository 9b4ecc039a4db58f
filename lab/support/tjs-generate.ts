/**
 * @file The scale benchmark's anchor: transformers.js's own `generate()` on a checkpoint folder, with the engine's
 * prompt (the folder's processor and chat template, one image, one question), greedy, at a forced length
 * (min_new_tokens = max_new_tokens), with or without `output_attentions`. One runner for both places it runs:
 * Node (lab/bench/scale-node.ts: the folder's path, onnxruntime-node) and headless Chromium (lab/support/tjs-worker.ts: the
 * folder by URL, mounted by the engine's browser platform, onnxruntime-web WASM in a worker of its own).
 *
 * Timed by a streamer: prefill = generate() start → first generated token; decode tok/s over the tokens after it.
 * With `answer`, a run also hands back what it computed (the tests compare it with Hugging Face's): the prompt ids, the
 * generated ids and, with `attentions`, each step's last query row over the image tokens — read after the timing.
 */
import { AutoModelForImageTextToText, AutoProcessor, env, type RawImage } from '@huggingface/transformers';
import { decodeTps } from './stats.ts';

/** One generate() run's figures. */
export interface TjsFigures {
  prefillMs: number;
  decodeTps: number;
  tokens: number;
  /** With `answer`: what generate() computed. */
  answer?: TjsAnswer;
}

/** One generate() answer, in the engine's StepRecord layout for the attention. */
export interface TjsAnswer {
  inputIds: number[];
  tokens: number[];
  /** First image token and how many there are in inputIds. */
  imageSpan: { start: number; length: number };
  /**
   * Per generated token (with `attentions`): the last query row of each `decoder_attentions.<l>` output of its call,
   * over the image tokens, `[(l · heads + h) · n + k]` in the graph's output order.
   */
  attention: number[][];
}

/** How the caller's platform loads the model (transformers.js's from_pretrained options). */
export interface TjsLoadOptions {
  /** transformers.js dtype: one for every graph, or per graph. */
  dtype: string | Record<string, string>;
  device: 'cpu' | 'wasm';
  /** ONNX Runtime session options (Node: intra-op threads; onnxruntime-web sizes its thread pool in env instead). */
  session_options?: Record<string, unknown>;
}

/** A loaded model and its run. */
export interface TransformersJsRunner {
  run(image: RawImage, question: string, tokens: number, attentions: boolean, answer?: boolean): Promise<TjsFigures>;
  dispose(): Promise<unknown>;
  /** transformers.js's model (its `sessions`), for tests that intervene in a graph's output. */
  model: any;
}

/** The image token span of a prompt (the contiguous run of `imageTokenId`). */
function imageSpan(ids: number[], imageTokenId: number): { start: number; length: number } {
  const start = ids.indexOf(imageTokenId);
  return { start, length: start < 0 ? 0 : ids.lastIndexOf(imageTokenId) - start + 1 };
}

/** Each step's last attention rows over the image span, per layer output, then head. */
function attentionRows(perStep: any[][], span: { start: number; length: number }): number[][] {
  return perStep.map((layers) => {
    const row: number[] = [];
    for (const t of layers) {
      const [, heads, q, kv] = t.dims;
      const data = (t.type === 'float32' ? t.data : t.to('float32').data) as Float32Array;
      for (let h = 0; h < heads; h++) {
        const base = (h * q + q - 1) * kv;
        row.push(...data.subarray(base + span.start, base + span.start + span.length));
      }
    }
    return row;
  });
}

/**
 * Loads the processor and model of `location` (a folder path in Node, a model id transformers.js resolves through
 * its env in the browser) as local files only.
 */
export async function transformersJs(location: string, o: TjsLoadOptions): Promise<TransformersJsRunner> {
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  const processor = await AutoProcessor.from_pretrained(location);
  const model = await AutoModelForImageTextToText.from_pretrained(location, {
    dtype: o.dtype as any,
    device: o.device,
    session_options: o.session_options as any,
  });
  return {
    model,
    dispose: () => model.dispose(),
    async run(image, question, tokens, attentions, answer = false) {
      const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }];
      const text = processor.apply_chat_template(messages, { add_generation_prompt: true }) as string;
      const inputs = await processor(text, image);
      const times: number[] = [];
      const streamer = { put: () => void times.push(performance.now()), end: () => undefined };
      const t0 = performance.now();
      const out = (await model.generate({
        ...inputs,
        max_new_tokens: tokens,
        min_new_tokens: tokens,
        do_sample: false,
        output_attentions: attentions,
        return_dict_in_generate: attentions,
        streamer,
      } as any)) as any;
      // times[0] is the prompt (put before the first forward), then one per generated token.
      const n = times.length - 1;
      const figures: TjsFigures = { prefillMs: times[1] - t0, decodeTps: decodeTps(n, times[n] - times[1]), tokens: n };
      if (answer) {
        const inputIds = Array.from(inputs.input_ids.data as BigInt64Array, Number);
        const sequence = Array.from(((attentions ? out.sequences : out) as any).data as BigInt64Array, Number);
        const config = (model as any).config;
        const span = imageSpan(inputIds, Number(config.image_token_id ?? config.text_config?.image_token_id));
        const rows = attentions ? attentionRows((out.decoder_attentions ?? []) as any[][], span) : [];
        figures.answer = { inputIds, tokens: sequence.slice(inputIds.length), imageSpan: span, attention: rows };
      }
      if (attentions)
        for (const perLayer of Object.values(out.decoder_attentions ?? {}))
          for (const t of perLayer as any[]) t?.dispose?.();
      return figures;
    },
  };
}
