/**
 * @file The in-thread engine: `createEngine(platform)` implements {@link AttentionEngine} on transformers.js. The
 * Web Worker (browser), `createNodeEngine()` (CLI, vitest) and the benchmark all use this one implementation.
 * Loading is load.ts; the WebGPU device's state is device-loss.ts; this file keeps the loaded models by handle and
 * runs generate / score on them.
 *
 * Every failure leaves as an EngineError with a code (errors.ts); a failed load frees what it created, and a failed
 * run leaves the model loaded and usable. Runs on one model are serialised; different models run independently.
 * A lost WebGPU device fails the run in flight with `device_lost`. ORT's wasm module is unusable after that (even
 * for WASM sessions), so recovery is a fresh worker: client.ts restarts it and reloads the models on WASM.
 */
import { WebGpuHealth } from './device-loss.ts';
import { toEngineError } from './errors.ts';
import { DEFAULT_MAX_NEW_TOKENS, runGeneration, runScore } from './generate.ts';
import { loadModel } from './load.ts';
import type { LoadedModel } from './loaded.ts';
import type { EnginePlatform } from './platform.ts';
import { checkQuestion, preparePrompt } from './prompt.ts';
import { EngineError, type AttentionEngine, type ImageInput } from './types.ts';

export { ATTENTION_HOWTO, WASM_4BIT_NOTE } from './load.ts';

/** An engine plus diagnostics the worker exposes. */
export interface InThreadEngine extends AttentionEngine {
  /** Destroys ORT's WebGPU device (browser); false when there is none. */
  destroyWebGpuDevice(): boolean;
}

const unknownHandle = (handle: string) =>
  new EngineError('bad_input', `No model is loaded under handle "${handle}" (unloaded or never loaded).`);

/** Creates the in-thread engine on a platform (browser worker or Node). */
export function createEngine(platform: EnginePlatform): InThreadEngine {
  const models = new Map<string, LoadedModel>();
  const webgpu = new WebGpuHealth(platform);
  let counter = 0;

  /** Decodes the request's image and builds the prompt (the preprocessing shared by generate and score), timed. */
  async function prepare(m: LoadedModel, request: { image: ImageInput; question: string }, newTokens: number) {
    const t0 = performance.now();
    checkQuestion(m, request.question);
    const prompt = await preparePrompt(m, await platform.decodeImage(request.image), request.question, newTokens);
    return { prompt, preprocessMs: performance.now() - t0 };
  }

  /** Runs `fn` after the model's previous run, with error mapping and WebGPU-loss detection. */
  function run<T>(handle: string, fn: (m: LoadedModel) => Promise<T>): Promise<T> {
    const m0 = models.get(handle);
    if (!m0) return Promise.reject(unknownHandle(handle));
    const task = m0.queue.then(async () => {
      const m = models.get(handle);
      if (!m) throw unknownHandle(handle);
      webgpu.assertCanRun(m);
      try {
        return await fn(m);
      } catch (e) {
        throw await webgpu.explainFailure(m, toEngineError(e, 'internal', 'Generation failed'));
      }
    });
    m0.queue = task.catch(() => undefined);
    return task;
  }

  return {
    async load(source, options = {}, onProgress, signal) {
      const handle = `m${++counter}`;
      const m = await loadModel(platform, webgpu, handle, source, options, onProgress, signal);
      models.set(handle, m);
      return m.info;
    },

    generate(handle, request, cb, signal) {
      return run(handle, async (m) => {
        const { prompt, preprocessMs } = await prepare(m, request, request.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS);
        return {
          ...(await runGeneration(m, prompt, request, cb, signal, () => platform.yieldToEvents())),
          preprocessMs,
        };
      });
    },

    score(handle, request, cb, signal) {
      return run(handle, async (m) => {
        const { prompt, preprocessMs } = await prepare(m, request, request.answerTokenIds?.length ?? 0);
        return { ...(await runScore(m, prompt, request, cb, signal, () => platform.yieldToEvents())), preprocessMs };
      });
    },

    async unload(handle) {
      const m = models.get(handle);
      if (!m) return;
      models.delete(handle);
      await m.queue;
      await m.model.dispose?.().catch(() => undefined);
      m.releaseSource();
    },

    destroyWebGpuDevice() {
      return platform.destroyWebGpuDevice?.() ?? false;
    },
  };
}
