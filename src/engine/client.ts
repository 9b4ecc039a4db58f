/**
 * @file The browser side of the engine: `createWorkerEngine()` returns an {@link AttentionEngine} whose calls run in
 * the engine Web Worker. Calls are matched to replies by id; an AbortSignal sends a cancel message; progress, the
 * prompt info and each step record reach the callbacks as the worker posts them.
 *
 * WebGPU device loss: after it, ONNX Runtime's wasm module fails even WASM sessions, so the client starts a fresh
 * worker, reloads every model it had (WebGPU ones on WASM) under the same handles, reports the new ModelInfo, and
 * fails only the call in flight with `device_lost` ("… reloaded on WASM; run again"). Nothing else is lost.
 * The same restart serves a WebGPU load in a worker that started on the WASM-only ORT build, and a WASM load whose
 * model needs more threads than the worker's ORT thread pool has (sized by its first model; see browser.ts).
 *
 * Stop on a worker that does not answer: a hostile folder can keep the worker's thread busy in synchronous code (a
 * pre-tokenizer regex that backtracks for ever, a chat template that loops), where no cancel message is read. When a
 * stopped call has not ended {@link STOP_GRACE_MS} after its cancel, the client restarts the worker the same way:
 * the stopped call (and any other in flight) fails with `cancelled`, every loaded model is reloaded under its handle
 * and reported through onModelInfo, so the other panel answers again.
 */
import { deserializeError } from './errors.ts';
import { NEEDS_MORE_THREADS, NEEDS_WEBGPU_RUNTIME, type WorkerRequest, type WorkerResponse } from './protocol.ts';
import { registryEntry } from './registry.ts';
import {
  EngineError,
  type AttentionEngine,
  type FileProgress,
  type GenerationCallbacks,
  type LoadOptions,
  type ModelInfo,
  type ModelSource,
  type RunSummary,
} from './types.ts';

/**
 * Before the first model loaded by URL: ask for persistent storage (navigator.storage.persist() exists only on the
 * page, not in the worker), so the large files the worker keeps in the origin-private file system are not evicted
 * first. The embedded pair and picked folders do not ask (Firefox shows a prompt). Whether it was granted, the
 * worker reads with persisted() and says so in the model's storageNote.
 */
let persistence: Promise<boolean> | undefined;
function askPersistence(source: ModelSource): Promise<boolean> | undefined {
  const byUrl = source.kind === 'url' || (source.kind === 'registry' && registryEntry(source.id)?.kind === 'url');
  if (!byUrl || typeof navigator === 'undefined' || !navigator.storage?.persist) return undefined;
  persistence ??= navigator.storage.persist().catch(() => false);
  return persistence;
}

/** How long a stopped call may take to end before its worker is taken as hung and restarted. */
export const STOP_GRACE_MS = 10_000;

/** A request before its id is assigned (Omit distributed over the union). */
type Unsent = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

type Pending = {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onProgress?: (p: FileProgress) => void;
  callbacks?: GenerationCallbacks;
};

/** A model as the client knows it: how to load it again, and its handle inside the current worker. */
interface Tracked {
  source: ModelSource;
  options: LoadOptions;
  info: ModelInfo;
  workerHandle: string;
}

/** Options of {@link createWorkerEngine}. */
export interface WorkerEngineOptions {
  /** Creates the worker (default: the bundled engine worker). Called again after a WebGPU device loss. */
  factory?: () => Worker;
  /** A model's info changed outside a call (e.g. reloaded on WASM after a device loss). */
  onModelInfo?: (info: ModelInfo) => void;
}

/** The worker engine plus its diagnostics. */
export interface WorkerEngine extends AttentionEngine {
  /** Destroys ORT's WebGPU device inside the worker (device-loss test and diagnostics); false when none. */
  destroyWebGpuDevice(): Promise<boolean>;
  /**
   * A fresh worker with nothing loaded (pending calls fail with `cancelled`): a backend change starts over in a worker
   * whose ONNX Runtime build and WebGPU device are chosen anew, instead of unloading models next to a lost device.
   */
  reset(): void;
  /** Ends the worker; pending calls fail. */
  terminate(): void;
}

const defaultFactory = () => new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'sayo-engine' });

/** Starts the engine worker and returns the engine that talks to it. */
export function createWorkerEngine(options: WorkerEngineOptions = {}): WorkerEngine {
  const factory = options.factory ?? defaultFactory;
  const pending = new Map<number, Pending>();
  const tracked = new Map<string, Tracked>();
  let nextId = 0;
  let handles = 0;
  let recovering: Promise<void> | null = null;
  /** Why a model could not be reloaded after a device loss (by public handle). */
  const reloadFailures = new Map<string, string>();
  let w = spawn();

  function spawn(): Worker {
    const worker = factory();
    worker.onmessage = (ev: MessageEvent<WorkerResponse>) => dispatch(ev.data);
    worker.onerror = (ev: ErrorEvent) => failAll(new EngineError('internal', `The engine worker failed: ${ev.message || 'unknown error'}`));
    return worker;
  }

  function dispatch(msg: WorkerResponse): void {
    const p = pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case 'progress':
        return p.onProgress?.(msg.progress);
      case 'prompt':
        return p.callbacks?.onPrompt?.(msg.info);
      case 'step':
        return p.callbacks?.onStep?.(msg.step);
      case 'result':
        pending.delete(msg.id);
        return p.resolve(msg.value);
      case 'error':
        pending.delete(msg.id);
        return p.reject(deserializeError(msg.error));
    }
  }

  function failAll(err: Error): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  }

  function call<T>(req: Unsent, extra: Omit<Pending, 'resolve' | 'reject'> = {}, signal?: AbortSignal): Promise<T> {
    const id = ++nextId;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...extra });
      w.postMessage({ ...req, id } as WorkerRequest);
      if (signal) {
        const cancel = () => {
          const worker = w;
          worker.postMessage({ id: ++nextId, type: 'cancel', target: id } satisfies WorkerRequest);
          setTimeout(() => {
            if (!pending.has(id) || w !== worker) return;
            const hung = new EngineError('cancelled', `Stopped: the engine did not respond within ${STOP_GRACE_MS / 1000} s, so it was restarted and the other models reloaded.`);
            void restart(hung, (t) => t.options);
          }, STOP_GRACE_MS);
        };
        if (signal.aborted) cancel();
        else signal.addEventListener('abort', cancel, { once: true });
      }
    });
  }

  function workerHandle(handle: string): string {
    const t = tracked.get(handle);
    if (!t) throw new EngineError('bad_input', `No model is loaded under handle "${handle}" (unloaded or never loaded).`);
    return t.workerHandle;
  }

  /**
   * Fresh worker: pending calls fail, `first` runs in it (a load that needs the WebGPU runtime), then every tracked
   * model is reloaded under its public handle, with `optionsFor` deciding its options.
   */
  function restart(failure: EngineError, optionsFor: (t: Tracked) => LoadOptions, first?: () => Promise<void>): Promise<void> {
    recovering ??= (async () => {
      const old = w;
      w = spawn();
      old.terminate();
      failAll(failure);
      const previous = [...tracked];
      await first?.();
      for (const [handle, t] of previous) {
        const opts = optionsFor(t);
        try {
          const info = await call<ModelInfo>({ type: 'load', source: t.source, options: opts });
          const note = opts.backend === 'wasm' && t.info.backend === 'webgpu' ? 'WASM: reloaded after the WebGPU device was lost' : info.backendReason;
          Object.assign(t, { options: opts, workerHandle: info.handle, info: { ...info, handle, backendReason: note } });
          options.onModelInfo?.(t.info);
        } catch (e) {
          tracked.delete(handle);
          reloadFailures.set(handle, (e as Error).message);
        }
      }
    })().finally(() => (recovering = null));
    return recovering;
  }

  /** After a WebGPU device loss: a fresh worker with every WebGPU model on WASM. */
  function recover(reason: string): Promise<void> {
    const failure = new EngineError('device_lost', `${reason} The engine restarted; run again.`);
    return restart(failure, (t) => (t.info.backend === 'webgpu' ? { ...t.options, backend: 'wasm' } : t.options));
  }

  async function loadTracked(source: ModelSource, opts: LoadOptions, onProgress?: (p: FileProgress) => void, signal?: AbortSignal): Promise<ModelInfo> {
    await askPersistence(source);
    const loaded = await call<ModelInfo>({ type: 'load', source, options: opts }, { onProgress }, signal);
    // Public handles are the client's own: worker handles change when the worker restarts.
    const info = { ...loaded, handle: `h${++handles}` };
    tracked.set(info.handle, { source, options: opts, info, workerHandle: loaded.handle });
    return info;
  }

  /** generate / score with device-loss recovery. */
  async function runCall(type: 'generate' | 'score', handle: string, request: any, callbacks: GenerationCallbacks, signal?: AbortSignal) {
    if (recovering) await recovering;
    try {
      return await call<RunSummary>({ type, handle: workerHandle(handle), request }, { callbacks }, signal);
    } catch (e) {
      if (!(e instanceof EngineError) || e.code !== 'device_lost') throw e;
      await recover(e.message);
      const t = tracked.get(handle);
      if (t) callbacks.onModelInfo?.(t.info);
      const after = t ? `${t.info.name} was reloaded on WASM; run again.` : `The model could not be reloaded: ${reloadFailures.get(handle) ?? 'unknown error'}`;
      throw new EngineError('device_lost', `${e.message} ${after}`);
    }
  }

  return {
    async load(source, opts = {}, onProgress, signal) {
      if (recovering) await recovering;
      try {
        return await loadTracked(source, opts, onProgress, signal);
      } catch (e) {
        const webgpu = e instanceof EngineError && e.message.includes(NEEDS_WEBGPU_RUNTIME);
        const threads = e instanceof EngineError && e.message.includes(NEEDS_MORE_THREADS);
        if (!webgpu && !threads) throw e;
        // This worker runs the WASM-only ORT build, or its thread pool is too small for this model: start a fresh one
        // with this model first (its ORT build / thread pool chosen for it); the other models are reloaded into it.
        const why = webgpu ? 'to enable WebGPU' : 'to give a larger model more WASM threads';
        let info: ModelInfo | undefined;
        await restart(new EngineError('cancelled', `The engine restarted ${why}; run again.`), (t) => t.options, async () => {
          info = await loadTracked(source, opts, onProgress);
        });
        return info!;
      }
    },
    generate: (handle, request, callbacks, signal) => runCall('generate', handle, request, callbacks, signal),
    score: (handle, request, callbacks, signal) => runCall('score', handle, request, callbacks, signal),
    async unload(handle) {
      const t = tracked.get(handle);
      if (!t) return;
      tracked.delete(handle);
      await call<void>({ type: 'unload', handle: t.workerHandle });
    },
    destroyWebGpuDevice: () => call<boolean>({ type: 'destroy-webgpu-device' }),
    reset() {
      const old = w;
      w = spawn();
      old.terminate();
      tracked.clear();
      reloadFailures.clear();
      failAll(new EngineError('cancelled', 'The engine restarted for another backend.'));
    },
    terminate() {
      w.terminate();
      tracked.clear();
      failAll(new EngineError('cancelled', 'The engine worker was terminated.'));
    },
  };
}
