/**
 * @file The scale benchmark's anchor: transformers.js's own `generate()` on a checkpoint folder, with the engine's
 * prompt (the folder's processor and chat template, one image, one question), greedy, at a forced length
 * (min_new_tokens = max_new_tokens), with or without `output_attentions`. One runner for both places it runs:
 * Node (bench/scale-node.ts: the folder's path, onnxruntime-node) and headless Chromium (bench/tjs-worker.ts: the
 * folder by URL, mounted by the engine's browser platform, onnxruntime-web WASM in a worker of its own).
 *
 * Timed by a streamer: prefill = generate() start → first generated token; decode tok/s over the tokens after it.
 */
import { AutoModelForImageTextToText, AutoProcessor, env, type RawImage } from '@huggingface/transformers';
import { decodeTps } from './stats.ts';

/** One generate() run's figures. */
export interface TjsFigures {
  prefillMs: number;
  decodeTps: number;
  tokens: number;
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
  run(image: RawImage, question: string, tokens: number, attentions: boolean): Promise<TjsFigures>;
  dispose(): Promise<unknown>;
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
    dispose: () => model.dispose(),
    async run(image, question, tokens, attentions) {
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
      if (attentions) for (const perLayer of Object.values(out.decoder_attentions ?? {})) for (const t of perLayer as any[]) t?.dispose?.();
      return { prefillMs: times[1] - t0, decodeTps: decodeTps(n, times[n] - times[1]), tokens: n };
    },
  };
}
