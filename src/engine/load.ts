/**
 * @file Loading one checkpoint into the in-thread engine, in the order the steps run: resolve the source (platform),
 * read and check config.json and pick the model family, choose the backend and the threads, create the processor and
 * the ONNX sessions (in parallel), then describe the model for the user (ModelInfo with its notes). A failed load
 * frees what it created and says why with an EngineError code.
 */
import { AutoProcessor, ModelRegistry, PretrainedConfig } from '@huggingface/transformers';
import type { WebGpuHealth } from './device-loss.ts';
import { toEngineError } from './errors.ts';
import { dtypeText, fitProblem, type SizedFile } from './fit.ts';
import { familyFor, supportedModelTypes, type ModelFamily, type ProcessorGeometryConfig } from './families/index.ts';
import { featureRowWidths, layoutNote } from './families/layout.ts';
import type { AttentionOutput, LoadedModel } from './loaded.ts';
import type { BackendChoice, EnginePlatform, ResolvedSource, ThreadChoice } from './platform.ts';
import { checkConfigPlausible, checkProcessorPlausible } from '../core/limits.ts';
import { EngineError, type FileProgress, type LoadOptions, type ModelInfo, type ModelSource } from './types.ts';

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

type Dtype = string | Record<string, string>;

/** The decoder's dtype within a transformers.js dtype (one for every session, or per session). */
function decoderDtype(dtype: Dtype): string | undefined {
  return typeof dtype === 'string' ? dtype : (dtype.decoder_model_merged ?? dtype.model);
}

/** transformers.js's progress_callback turned into per-file {@link FileProgress} reports. */
function progressCallback(onProgress?: (p: FileProgress) => void) {
  const files = new Map<string, FileProgress>();
  return (d: any) => {
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
}

/** config.json, parsed and checked, and the family that runs its model_type. */
async function readConfig(
  resolved: ResolvedSource,
): Promise<{ config: Record<string, any>; family: ModelFamily; modelType: string }> {
  let raw: Record<string, any>;
  try {
    raw = JSON.parse((await resolved.readText('config.json')).replace(/^\uFEFF/, ''));
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw new EngineError(
      'corrupt_model',
      `${resolved.name}: config.json is not valid JSON (${(e as Error).message}).`,
    );
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
  return { config: new PretrainedConfig(raw) as Record<string, any>, family, modelType };
}

/**
 * The processor and the model's sessions, created in parallel (the ORT wasm download overlaps the tokenizer's).
 * When either fails, the sessions that were created are freed.
 */
async function loadSessions(
  resolved: ResolvedSource,
  family: ModelFamily,
  config: Record<string, any>,
  loadOptions: {
    device: BackendChoice['backend'];
    dtype: Dtype;
    session_options?: Record<string, unknown>;
    progress_callback: (d: any) => void;
  },
): Promise<{ model: any; processor: any }> {
  const { progress_callback } = loadOptions;
  const [pr, mr] = await Promise.allSettled([
    AutoProcessor.from_pretrained(resolved.modelId, { progress_callback }),
    family.loadModel(resolved.modelId, { config, ...loadOptions }),
  ]);
  try {
    if (pr.status === 'rejected') throw pr.reason;
    if (mr.status === 'rejected') throw mr.reason;
    const processor: any = pr.value;
    if (!processor.image_processor || !processor.tokenizer) {
      throw new EngineError(
        'missing_file',
        `${resolved.name}: the processor needs preprocessor_config.json and tokenizer files.`,
      );
    }
    try {
      checkProcessorPlausible(processor.image_processor.config ?? {});
    } catch (e) {
      throw new EngineError('bad_input', `${resolved.name}: ${(e as Error).message}.`);
    }
    return { model: mr.value, processor };
  } catch (e) {
    if (mr.status === 'fulfilled') await (mr.value as any)?.dispose?.().catch(() => undefined);
    throw e;
  }
}

/** The decoder's attention outputs (decoder_attentions.<layer>), sorted by layer. */
function attentionOutputsOf(model: any): AttentionOutput[] {
  const decoder = model.sessions.decoder_model_merged ?? model.sessions.model;
  return (decoder.outputNames as string[])
    .map((name) => ({ name, layer: Number(ATTENTION_OUTPUT.exec(name)?.[1] ?? NaN) }))
    .filter((o) => Number.isInteger(o.layer))
    .sort((a, b) => a.layer - b.layer);
}

/** What the user is told about the loaded model: its backend, shape, and each note that applies. */
function describe(p: {
  handle: string;
  name: string;
  choice: BackendChoice;
  modelType: string;
  family: ModelFamily;
  config: Record<string, any>;
  model: any;
  geometry: ProcessorGeometryConfig;
  attentionOutputs: AttentionOutput[];
  dtype: Dtype;
  threads: ThreadChoice | undefined;
  threadsInUse: number | undefined;
}): ModelInfo {
  const info: ModelInfo = {
    handle: p.handle,
    name: p.name,
    backend: p.choice.backend,
    backendReason: p.choice.reason,
    modelType: p.modelType,
    attentionLayers: p.attentionOutputs.map((o) => o.layer),
    numLayers: p.family.numLayers(p.config),
    numHeads: p.family.numHeads(p.config),
    cellSize: p.geometry.patch_size * p.geometry.merge_size,
    processor: p.geometry,
  };
  if (p.threads) {
    const used = p.threadsInUse ?? p.threads.threads;
    info.threads = used;
    const note =
      used < p.threads.threads
        ? `ONNX Runtime runs ${used} thread${used > 1 ? 's' : ''} of the ${p.threads.threads} asked for: this browser offers no WebAssembly threads here.`
        : p.threads.note;
    if (note) info.threadsNote = note;
  }
  if (p.attentionOutputs.length === 0) info.attentionNote = ATTENTION_HOWTO;
  const architectureNote = layoutNote(p.family, p.config, featureRowWidths(p.model.sessions));
  if (architectureNote) info.architectureNote = architectureNote;
  if (p.choice.backend === 'wasm' && /^(q4|q4f16|bnb4)$/.test(decoderDtype(p.dtype) ?? ''))
    info.speedNote = WASM_4BIT_NOTE;
  return info;
}

/**
 * The graphs and external data the sessions of `source` will load on `backend` at `dtype` (transformers.js's own file
 * list), each with its size read without downloading it; empty when the platform cannot tell sizes.
 */
async function weightFiles(
  source: ResolvedSource,
  config: Record<string, unknown>,
  dtype: Dtype,
  backend: string,
): Promise<SizedFile[]> {
  if (!source.fileSize) return [];
  let files: string[];
  try {
    type FileOptions = NonNullable<Parameters<typeof ModelRegistry.get_model_files>[1]>;
    const options = { config, dtype, device: backend } as unknown as FileOptions;
    files = await ModelRegistry.get_model_files(source.modelId, options);
  } catch {
    return [];
  }
  const weights = files.filter((f) => /\.onnx(_data(_\d+)?)?$/.test(f));
  return Promise.all(
    weights.map(async (f): Promise<SizedFile> => [f, await source.fileSize!(f).catch(() => undefined)]),
  );
}

/** Loads `source` as the model `handle`: everything the engine keeps for it, or an EngineError. */
export async function loadModel(
  platform: EnginePlatform,
  webgpu: WebGpuHealth,
  handle: string,
  source: ModelSource,
  options: LoadOptions,
  onProgress?: (p: FileProgress) => void,
  signal?: AbortSignal,
): Promise<LoadedModel> {
  const resolved = await platform.resolveSource(source, signal, options.downloadTimeoutMs, options.opfsAboveBytes);
  let model: any;
  try {
    const { config, family, modelType } = await readConfig(resolved);
    webgpu.assertCanLoad();
    const choice = await platform.chooseBackend(options.backend);
    const dtype: Dtype = options.dtype ?? resolved.dtype ?? config['transformers.js_config']?.dtype ?? 'fp32';
    // Before any weight is fetched: a folder the backend cannot hold fails now, naming its size and the limit.
    const tooBig = fitProblem(
      await weightFiles(resolved, config, dtype, choice.backend),
      choice.backend,
      platform.kind,
      dtypeText(dtype),
    );
    if (tooBig)
      throw new EngineError(
        'out_of_memory',
        `${resolved.name}: ${tooBig}${platform.kind === 'browser' ? ' Nothing was downloaded.' : ''}`,
      );
    const threads = await platform.threads(resolved, choice.backend, config, dtype, options.threads);
    const session_options = threads?.sessionOptions ?? resolved.sessionOptions;
    const loaded = await loadSessions(resolved, family, config, {
      device: choice.backend,
      dtype,
      session_options,
      progress_callback: progressCallback(onProgress),
    });
    model = loaded.model;
    const { processor } = loaded;
    const geometry = family.geometry(config, processor.image_processor.config ?? {});
    if (choice.backend === 'webgpu') platform.watchWebGpuDevice?.(webgpu.markLost);
    const attentionOutputs = attentionOutputsOf(model);
    const threadsInUse = threads ? platform.threadsInUse?.() : undefined;
    const info = describe({
      handle,
      name: resolved.name,
      choice,
      modelType,
      family,
      config,
      model,
      geometry,
      attentionOutputs,
      dtype,
      threads,
      threadsInUse,
    });
    const storageNote = await resolved.storageNote?.();
    if (storageNote) info.storageNote = storageNote;
    const gen = model.generation_config ?? {};
    const vocab = processor.tokenizer.get_vocab?.();
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
      eosIds: new Set([gen.eos_token_id ?? config.eos_token_id ?? []].flat().map(Number)),
      vocabSize: vocab instanceof Map ? vocab.size : Object.keys(vocab ?? {}).length,
      attentionOutputs,
      queue: Promise.resolve(),
      releaseSource: resolved.release,
    };
  } catch (e) {
    await model?.dispose?.().catch(() => undefined);
    resolved.release();
    if (signal?.aborted) throw new EngineError('cancelled', `Loading ${resolved.name} was stopped.`);
    throw toEngineError(e, 'internal', `Loading ${resolved.name}`);
  }
}
