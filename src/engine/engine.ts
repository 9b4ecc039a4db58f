/**
 * @file The in-thread engine: `createEngine(platform)` implements {@link AttentionEngine} on transformers.js. The
 * Web Worker (browser), `createNodeEngine()` (CLI, vitest) and the benchmark all use this one implementation.
 *
 * Every failure leaves as an EngineError with a code (errors.ts); a failed load frees what it created, and a failed
 * run leaves the model loaded and usable. Runs on one model are serialised; different models run independently.
 * A lost WebGPU device fails the run in flight with `device_lost`. ORT's wasm module is unusable after that (even
 * for WASM sessions), so recovery is a fresh worker: client.ts restarts it and reloads the models on WASM.
 */
import { AutoProcessor, PretrainedConfig } from '@huggingface/transformers';
import { familyFor, supportedModelTypes } from './families/index.ts';
import { featureRowWidths, layoutNote } from './families/layout.ts';
import { toEngineError } from './errors.ts';
import { DEFAULT_MAX_NEW_TOKENS, runGeneration, runScore } from './generate.ts';
import type { AttentionOutput, LoadedModel } from './loaded.ts';
import type { EnginePlatform } from './platform.ts';
import { checkQuestion, preparePrompt } from './prompt.ts';
import { checkConfigPlausible, checkProcessorPlausible } from '../core/limits.ts';
import {
  EngineError,
  type AttentionEngine,
  type FileProgress,
  type GenerateRequest,
  type GenerationCallbacks,
  type ImageInput,
  type LoadOptions,
  type ModelInfo,
  type ModelSource,
  type RunSummary,
  type ScoreRequest,
} from './types.ts';

const ATTENTION_OUTPUT = /^decoder_attentions\.(\d+)$/;

/** How to add attention outputs to an export that has none. */
export const ATTENTION_HOWTO =
  'This model exposes no decoder_attentions outputs, so it answers without attention maps. To add them (unfused ' +
  'exports), run `npx sayo expose-attention onnx/decoder_model_merged.onnx decoder_with_attention.onnx --layers last` ' +
  '(or `--layers all`), put the result in place of onnx/decoder_model_merged.onnx, and load the folder again.';

/**
 * Said when a 4-bit decoder runs on WASM: onnxruntime-web's WASM build has no 4-bit (MatMulNBits) kernel, so every
 * step unpacks the decoder's weights to fp32, slower than the fp32 or 8-bit graphs on the same WASM. The figures (q4
 * against q8 in Chromium, and against onnxruntime-node) are in docs/benchmarks.md.
 */
export const WASM_4BIT_NOTE =
  'This 4-bit decoder runs on WASM, which has no 4-bit kernel: each generated token unpacks all its weights, so ' +
  'answers come many times slower than from the same model in 8 bits (q8). Use WebGPU, or the q8 decoder where the folder has one.';

/** The decoder's dtype within a transformers.js dtype (one for every session, or per session). */
function decoderDtype(dtype: string | Record<string, string>): string | undefined {
  return typeof dtype === 'string' ? dtype : (dtype.decoder_model_merged ?? dtype.model);
}

/** An engine plus diagnostics the worker exposes. */
export interface InThreadEngine extends AttentionEngine {
  /** Destroys ORT's WebGPU device (browser); false when there is none. */
  destroyWebGpuDevice(): boolean;
}

/** Creates the in-thread engine on a platform (browser worker or Node). */
export function createEngine(platform: EnginePlatform): InThreadEngine {
  const models = new Map<string, LoadedModel>();
  let counter = 0;
  let deviceLost: string | undefined;

  const unknownHandle = (handle: string) =>
    new EngineError('bad_input', `No model is loaded under handle "${handle}" (unloaded or never loaded).`);

  function get(handle: string): LoadedModel {
    const m = models.get(handle);
    if (!m) throw unknownHandle(handle);
    return m;
  }

  function onDeviceLost(reason: string): void {
    deviceLost ??= reason;
  }

  async function loadInto(handle: string, source: ModelSource, options: LoadOptions, onProgress?: (p: FileProgress) => void, signal?: AbortSignal) {
    const resolved = await platform.resolveSource(source, signal, options.downloadTimeoutMs, options.opfsAboveBytes);
    const files = new Map<string, FileProgress>();
    const progress_callback = (d: any) => {
      if (!onProgress || typeof d?.file !== 'string') return;
      const prev = files.get(d.file) ?? { file: d.file, loaded: 0, total: 0, done: false };
      if (d.status === 'progress') {
        const p = { file: d.file, loaded: Number(d.loaded ?? 0), total: Number(d.total ?? 0), done: false };
        files.set(d.file, p);
        onProgress(p);
      } else if (d.status === 'done') {
        const p = { ...prev, loaded: Math.max(prev.loaded, prev.total), done: true };
        files.set(d.file, p);
        onProgress(p);
      }
    };
    let model: any;
    try {
      let raw: Record<string, any>;
      try {
        raw = JSON.parse((await resolved.readText('config.json')).replace(/^\uFEFF/, ''));
      } catch (e) {
        if (e instanceof EngineError) throw e;
        throw new EngineError('corrupt_model', `${resolved.name}: config.json is not valid JSON (${(e as Error).message}).`);
      }
      try {
        checkConfigPlausible(raw);
      } catch (e) {
        throw new EngineError('bad_input', `${resolved.name}: ${(e as Error).message}.`);
      }
      const modelType = String(raw?.model_type ?? '');
      const family = familyFor(modelType);
      if (!family) {
        throw new EngineError(
          'unsupported_architecture',
          `${resolved.name}: model_type "${modelType || '(missing)'}" is not supported. Supported: ${supportedModelTypes().join(', ')}.`,
        );
      }
      const config: Record<string, any> = new PretrainedConfig(raw);
      if (deviceLost !== undefined) {
        throw new EngineError('device_lost', `The WebGPU device was lost (${deviceLost}); ONNX Runtime must be restarted (a new worker).`);
      }
      const choice = await platform.chooseBackend(options.backend);
      const dtype = options.dtype ?? resolved.dtype ?? config['transformers.js_config']?.dtype ?? 'fp32';
      const threads = await platform.threads(resolved, choice.backend, config, dtype, options.threads);
      const session_options = threads?.sessionOptions ?? resolved.sessionOptions;
      // Processor and sessions load in parallel (the ORT wasm download overlaps the tokenizer's).
      const [pr, mr] = await Promise.allSettled([
        AutoProcessor.from_pretrained(resolved.modelId, { progress_callback }),
        family.loadModel(resolved.modelId, { config, device: choice.backend, dtype, progress_callback, session_options }),
      ]);
      if (mr.status === 'fulfilled') model = mr.value;
      if (pr.status === 'rejected') throw pr.reason;
      if (mr.status === 'rejected') throw mr.reason;
      const processor: any = pr.value;
      if (!processor.image_processor || !processor.tokenizer) {
        throw new EngineError('missing_file', `${resolved.name}: the processor needs preprocessor_config.json and tokenizer files.`);
      }
      try {
        checkProcessorPlausible(processor.image_processor.config ?? {});
      } catch (e) {
        throw new EngineError('bad_input', `${resolved.name}: ${(e as Error).message}.`);
      }
      const geometry = family.geometry(config, processor.image_processor.config ?? {});
      if (choice.backend === 'webgpu') platform.watchWebGpuDevice?.(onDeviceLost);
      const decoder = model.sessions.decoder_model_merged ?? model.sessions.model;
      const attentionOutputs: AttentionOutput[] = (decoder.outputNames as string[])
        .map((name) => ({ name, layer: Number(ATTENTION_OUTPUT.exec(name)?.[1] ?? NaN) }))
        .filter((o) => Number.isInteger(o.layer))
        .sort((a, b) => a.layer - b.layer);
      const gen = model.generation_config ?? {};
      const eos = [gen.eos_token_id ?? config.eos_token_id ?? []].flat().map(Number);
      const vocab = processor.tokenizer.get_vocab?.();
      const info: ModelInfo = {
        handle,
        name: resolved.name,
        backend: choice.backend,
        backendReason: choice.reason,
        modelType,
        attentionLayers: attentionOutputs.map((o) => o.layer),
        numLayers: family.numLayers(config),
        numHeads: family.numHeads(config),
        cellSize: geometry.patch_size * geometry.merge_size,
        processor: geometry,
      };
      if (threads) {
        const used = platform.threadsInUse?.() ?? threads.threads;
        info.threads = used;
        const note = used < threads.threads ? `ONNX Runtime runs ${used} thread${used > 1 ? 's' : ''} of the ${threads.threads} asked for: this browser offers no WebAssembly threads here.` : threads.note;
        if (note) info.threadsNote = note;
      }
      if (attentionOutputs.length === 0) info.attentionNote = ATTENTION_HOWTO;
      const architectureNote = layoutNote(family, config, featureRowWidths(model.sessions));
      if (architectureNote) info.architectureNote = architectureNote;
      if (choice.backend === 'wasm' && /^(q4|q4f16|bnb4)$/.test(decoderDtype(dtype) ?? '')) info.speedNote = WASM_4BIT_NOTE;
      const storageNote = await resolved.storageNote?.();
      if (storageNote) info.storageNote = storageNote;
      return {
        info,
        source,
        options,
        family,
        config,
        model,
        processor,
        tokenizer: processor.tokenizer,
        geometry,
        imageTokenId: family.imageTokenId(config),
        eosIds: new Set(eos),
        vocabSize: vocab instanceof Map ? vocab.size : Object.keys(vocab ?? {}).length,
        attentionOutputs,
        queue: Promise.resolve(),
        releaseSource: resolved.release,
      } satisfies LoadedModel;
    } catch (e) {
      await model?.dispose?.().catch(() => undefined);
      resolved.release();
      if (signal?.aborted) throw new EngineError('cancelled', `Loading ${resolved.name} was stopped.`);
      throw toEngineError(e, 'internal', `Loading ${resolved.name}`);
    }
  }

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
      const m = get(handle);
      if (m.info.backend === 'webgpu' && deviceLost !== undefined) {
        throw new EngineError('device_lost', `The WebGPU device was lost earlier (${deviceLost}); ${m.info.name} must be reloaded.`);
      }
      try {
        return await fn(m);
      } catch (e) {
        const err = toEngineError(e, 'internal', 'Generation failed');
        if (m.info.backend !== 'webgpu') throw err;
        // A lost device surfaces as whatever ORT call failed first; ask the device itself.
        const reason = deviceLost ?? (await platform.webGpuDeviceLost?.()) ?? (err.code === 'device_lost' ? err.message : undefined);
        if (reason === undefined) throw err;
        deviceLost = reason;
        throw new EngineError('device_lost', `The WebGPU device was lost during the answer (${reason}).`);
      }
    });
    m0.queue = task.catch(() => undefined);
    return task;
  }

  return {
    async load(source, options = {}, onProgress, signal) {
      const handle = `m${++counter}`;
      const m = await loadInto(handle, source, options, onProgress, signal);
      models.set(handle, m);
      return m.info;
    },

    generate(handle: string, request: GenerateRequest, cb: GenerationCallbacks, signal?: AbortSignal): Promise<RunSummary> {
      return run(handle, async (m) => {
        const { prompt, preprocessMs } = await prepare(m, request, request.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS);
        return { ...(await runGeneration(m, prompt, request, cb, signal, () => platform.yieldToEvents())), preprocessMs };
      });
    },

    score(handle: string, request: ScoreRequest, cb: GenerationCallbacks, signal?: AbortSignal): Promise<RunSummary> {
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
