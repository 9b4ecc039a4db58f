/**
 * @file The engine interface: one contract served by the in-thread engine (Node CLI, vitest)
 * and by the Web Worker proxy (browser). Everything crossing it is plain data (structured-clone safe).
 *
 * Attention layout (see models/CONTRACT.md): for each generated token, the attention rows of the
 * captured decoder layers over the N image tokens, layer-major then head-major:
 *   attention[(l * heads + h) * n + k]   l < layers.length, h < heads, k < n (raster order of the grid)
 */

/** Where a checkpoint lives: a registry id, a URL / path to an HF-layout folder, or files the user picked. */
export type ModelSource =
  | { kind: 'registry'; id: string }
  | { kind: 'url'; url: string }
  | { kind: 'path'; path: string } // Node only
  | { kind: 'files'; files: Record<string, Blob> }; // keys are paths inside the folder, e.g. "onnx/decoder_model_merged.onnx"

export type Backend = 'webgpu' | 'wasm' | 'cpu';

export interface LoadOptions {
  /** Preferred backend; 'auto' picks WebGPU when an adapter exists, else WASM (browser) / CPU (Node). */
  backend?: Backend | 'auto';
  /** transformers.js dtype, e.g. 'fp32', 'q4', or per-session map. */
  dtype?: string | Record<string, string>;
  /** Browser downloads: connect and idle timeout in ms (default DOWNLOAD_LIMITS in core/limits.ts). */
  downloadTimeoutMs?: number;
  /**
   * Browser: files larger than this many bytes are kept in the origin-private file system instead of Cache Storage.
   * Default: only files Cache Storage refuses go there.
   */
  opfsAboveBytes?: number;
  /**
   * ONNX Runtime intra-op threads, instead of the rule in threads.ts (benchmarks, A/B). Browser: onnxruntime-web has
   * one WASM thread pool per engine worker, sized by the worker's first model; more than 1 only when the page is
   * cross-origin isolated.
   */
  threads?: number;
}

/** One file's download progress, in bytes. */
export interface FileProgress {
  file: string;
  loaded: number;
  total: number;
  done: boolean;
}

export interface ModelInfo {
  /** Handle used in later calls. */
  handle: string;
  name: string;
  backend: Backend;
  /** Why this backend was chosen, shown to the user (e.g. "WebGPU adapter: google/swiftshader"). */
  backendReason: string;
  modelType: string;
  /** Decoder layers whose attention the graph exposes (decoder_attentions.<layer>); empty when none. */
  attentionLayers: number[];
  numLayers: number;
  numHeads: number;
  /** Pixels per visual token side (patch_size × merge_size): 28 for Qwen2/2.5-VL, 32 for Qwen3-VL. */
  cellSize: number;
  processor: { patch_size: number; merge_size: number; min_pixels: number; max_pixels: number };
  /** Human-readable note when attention capture is unavailable, with how to add it. */
  attentionNote?: string;
  /**
   * Set when the graphs do not compute the model config.json describes — a Qwen3-VL export without its DeepStack
   * features (made by another exporter) — with the fix: the model answers, but its answers and attention are not the
   * model's.
   */
  architectureNote?: string;
  /** Browser: why some of the model's files will not be there on the next visit (or may be evicted), when so. */
  storageNote?: string;
  /** Why this model will answer slowly on its backend, and what is faster, when so (a 4-bit decoder on WASM). */
  speedNote?: string;
  /** ONNX Runtime intra-op threads this model runs with (CPU and WASM; absent on WebGPU). */
  threads?: number;
  /**
   * Why it runs with fewer threads than the rule (threads.ts) gives it, when so: the page is not cross-origin isolated
   * (no SharedArrayBuffer), or the engine worker's thread pool was already sized by an earlier model.
   */
  threadsNote?: string;
}

/** An image as the engine receives it: encoded bytes (PNG/JPEG/...) or raw RGBA. */
export type ImageInput =
  | { kind: 'encoded'; bytes: Uint8Array; mime?: string }
  | { kind: 'rgba'; width: number; height: number; data: Uint8ClampedArray };

export interface GenerateRequest {
  image: ImageInput;
  question: string;
  maxNewTokens?: number;
  /** End-of-turn tokens are suppressed until this many tokens exist (benchmarks measure long decodes). */
  minNewTokens?: number;
  /** Greedy when absent or temperature 0. */
  sampling?: { temperature: number; topP?: number; seed?: number };
  /** Layers to capture (a subset of ModelInfo.attentionLayers); all exposed layers when absent, none for []. */
  captureLayers?: number[];
}

export interface ScoreRequest {
  image: ImageInput;
  question: string;
  /** Answer text to teacher-force, followed by the end-of-turn token (token ids win when given, used as is). */
  answer: string;
  answerTokenIds?: number[];
  /** As in GenerateRequest. */
  captureLayers?: number[];
}

/** Facts about the prompt, sent once before the first step. */
export interface PromptInfo {
  /** Original image size (pixels) and the processor's resized size. */
  image: { width: number; height: number };
  resized: { width: number; height: number };
  /** image_grid_thw from the processor: [t, h, w] in patches. */
  gridThw: [number, number, number];
  /** Visual-token grid (after merge): rows × cols = n. */
  grid: { rows: number; cols: number };
  /** Position of the first image token in input_ids and how many there are. */
  imageSpan: { start: number; length: number };
  promptTokens: number;
  /** The prompt's token ids (checked against fixtures/prompt-cases.json). */
  inputIds?: number[];
  /** Words of the question the tokenizer does not know as whole words (small vocabularies only). */
  unknownWords: string[];
  /** Set when the image was downscaled to fit max_pixels or otherwise adjusted. */
  notice?: string;
}

/** One generated (or teacher-forced) token with its capture. */
export interface StepRecord {
  index: number;
  tokenId: number;
  text: string;
  /** Entropy (nats) of the distribution the token was drawn from (softmax of logits / temperature). */
  entropy: number;
  /** Captured layers, in the order of the attention data. */
  layers: number[];
  heads: number;
  /** Number of image tokens (= grid.rows × grid.cols). */
  n: number;
  /** layers.length × heads × n, row-major; empty when the model has no attention outputs. */
  attention: Float32Array;
  /** Per (layer, head): share of the full attention row that falls on image tokens (layers.length × heads). */
  imageShare: Float32Array;
  /** Per (layer, head): sum of the full attention row (≈ 1; kept for checks). */
  rowSum: Float32Array;
}

export interface RunSummary {
  tokens: number;
  stoppedBy: 'eos' | 'max_tokens' | 'cancel';
  text: string;
  prefillMs: number;
  decodeMs: number;
  /** Image decoding + processor + tokenizer time before the first forward pass. */
  preprocessMs?: number;
  /** Time spent reading and slicing attention (included in prefillMs + decodeMs): the capture's own cost. */
  captureMs?: number;
}

export interface GenerationCallbacks {
  onPrompt?(info: PromptInfo): void;
  onStep?(step: StepRecord): void;
  /** The model's info changed during the call (e.g. WebGPU device lost → reloaded on WASM). */
  onModelInfo?(info: ModelInfo): void;
}

/** The single engine contract. */
export interface AttentionEngine {
  /** `signal` (Stop) ends a load that is still downloading, with a `cancelled` error. */
  load(
    source: ModelSource,
    options?: LoadOptions,
    onProgress?: (p: FileProgress) => void,
    signal?: AbortSignal,
  ): Promise<ModelInfo>;
  generate(
    handle: string,
    request: GenerateRequest,
    callbacks: GenerationCallbacks,
    signal?: AbortSignal,
  ): Promise<RunSummary>;
  score(
    handle: string,
    request: ScoreRequest,
    callbacks: GenerationCallbacks,
    signal?: AbortSignal,
  ): Promise<RunSummary>;
  unload(handle: string): Promise<void>;
}

/** Errors cross the worker boundary as plain data; `code` lets the UI pick a message. */
export type EngineErrorCode =
  | 'missing_file'
  | 'corrupt_model'
  | 'unsupported_architecture'
  | 'bad_image'
  | 'bad_input'
  | 'device_lost'
  | 'out_of_memory'
  /** A model file could not be downloaded within the limits (timeout, size, redirects, scheme). */
  | 'download_failed'
  | 'cancelled'
  | 'internal';

export class EngineError extends Error {
  constructor(
    public readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
