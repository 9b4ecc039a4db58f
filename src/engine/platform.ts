/**
 * @file What differs between the browser (Web Worker, onnxruntime-web) and Node (onnxruntime-node): where model files
 * come from, which backend runs, how images are decoded, how to yield to the event loop. The engine core is the same.
 */
import type { RawImage } from '@huggingface/transformers';
import type { Backend, ImageInput, ModelSource } from './types.ts';

/** A model source made loadable by transformers.js. */
export interface ResolvedSource {
  /** Id or path handed to `from_pretrained`. */
  modelId: string;
  /** Display name. */
  name: string;
  /** Default dtype (registry precision) when the caller gives none. */
  dtype?: string | Record<string, string>;
  /** Reads a small text file of the folder (config.json), or throws a missing_file EngineError. */
  readText(file: string): Promise<string>;
  /** Frees what resolving set up (virtual mounts). */
  release(): void;
  /** ONNX Runtime session options of this source's sessions (Node: intra-op threads by decoder size). */
  sessionOptions?: Record<string, unknown>;
  /** A file's size in bytes without reading it (browser: picked file, model cache, or a HEAD request; Node: the disk). */
  fileSize?(file: string): Promise<number | undefined>;
  /** After loading: why files of this source could not be kept for the next visit, if any (browser). */
  storageNote?(): Promise<string | undefined>;
}

/** The chosen backend and why (shown to the user). */
export interface BackendChoice {
  backend: Backend;
  reason: string;
}

/** The intra-op threads a model's sessions will run with, and why fewer than the rule gives, when so. */
export interface ThreadChoice {
  threads: number;
  note?: string;
  /** Session options to load with instead of the source's (Node: intraOpNumThreads set to `threads`). */
  sessionOptions?: Record<string, unknown>;
}

/** Platform services the engine core needs. */
export interface EnginePlatform {
  readonly kind: 'browser' | 'node';
  /** `signal` aborts the downloads of this source (browser). */
  resolveSource(
    source: ModelSource,
    signal?: AbortSignal,
    downloadTimeoutMs?: number,
    opfsAboveBytes?: number,
  ): Promise<ResolvedSource>;
  chooseBackend(preference: Backend | 'auto' | undefined): Promise<BackendChoice>;
  /**
   * Before the sessions are created: the ONNX Runtime intra-op threads of this source on `backend` (`requested`, else
   * the rule of threads.ts). The browser sizes onnxruntime-web's WASM thread pool here, once per worker. Undefined
   * where it does not apply (WebGPU).
   */
  threads(
    source: ResolvedSource,
    backend: Backend,
    config: Record<string, unknown>,
    dtype: string | Record<string, string>,
    requested?: number,
  ): Promise<ThreadChoice | undefined>;
  /** After loading: the threads ONNX Runtime actually runs with (browser: it falls back to 1 without SharedArrayBuffer). */
  threadsInUse?(): number | undefined;
  decodeImage(input: ImageInput): Promise<RawImage>;
  /** Lets queued messages (e.g. cancel) run between decode steps. */
  yieldToEvents(): Promise<void>;
  /** Calls `onLost` once if the WebGPU device ORT uses is lost (browser only). */
  watchWebGpuDevice?(onLost: (reason: string) => void): void;
  /** After a failure on WebGPU: resolves to the loss reason if ORT's device is lost (waits briefly), else undefined. */
  webGpuDeviceLost?(): Promise<string | undefined>;
  /** Destroys ORT's WebGPU device (diagnostics and the device-loss e2e test). */
  destroyWebGpuDevice?(): boolean;
}
