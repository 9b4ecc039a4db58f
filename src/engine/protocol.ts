/**
 * @file The worker protocol: one discriminated union each way, every message tagged with the id of the call it
 * belongs to. Errors cross as {code, name, message}. Step records transfer their Float32Array buffers.
 */
import type { SerializedError } from './errors.ts';
import type {
  FileProgress,
  GenerateRequest,
  LoadOptions,
  ModelInfo,
  ModelSource,
  PromptInfo,
  RunSummary,
  ScoreRequest,
  StepRecord,
} from './types.ts';

/** Error message of a load that needs WebGPU in a worker already running the WASM-only ORT build (client.ts restarts). */
export const NEEDS_WEBGPU_RUNTIME = 'WebGPU needs a new engine worker: this one runs the WASM-only ONNX Runtime build';

/**
 * Error message of a WASM load whose model the thread rule gives more threads than this worker's ORT thread pool has
 * (sized by an earlier, smaller model; browser.ts): client.ts restarts the worker with this model first.
 */
export const NEEDS_MORE_THREADS =
  'More WASM threads need a new engine worker: its ONNX Runtime thread pool was sized by an earlier model';

/** Client → worker. */
export type WorkerRequest =
  | { id: number; type: 'load'; source: ModelSource; options?: LoadOptions }
  | { id: number; type: 'generate'; handle: string; request: GenerateRequest }
  | { id: number; type: 'score'; handle: string; request: ScoreRequest }
  | { id: number; type: 'unload'; handle: string }
  /** Aborts the call `target` (generate / score stop between steps with stoppedBy 'cancel'). */
  | { id: number; type: 'cancel'; target: number }
  /** Destroys ORT's WebGPU device: used by the device-loss e2e test and for diagnosing fallbacks. */
  | { id: number; type: 'destroy-webgpu-device' };

/** Worker → client. */
export type WorkerResponse =
  | { id: number; type: 'progress'; progress: FileProgress }
  | { id: number; type: 'prompt'; info: PromptInfo }
  | { id: number; type: 'step'; step: StepRecord }
  | { id: number; type: 'result'; value: ModelInfo | RunSummary | boolean | null }
  | { id: number; type: 'error'; error: SerializedError };
