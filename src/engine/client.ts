/**
 * @file The browser side of the engine: `createWorkerEngine()` returns an {@link AttentionEngine} whose calls run in
 * the engine Web Worker. The parts:
 * - client/link.ts: the worker and its calls (ids, streamed progress / prompt / steps, cancel on an AbortSignal);
 * - client/models.ts: the loaded models under public handles that survive a worker restart;
 * - client/recovery.ts: when and how the worker is restarted and the models reloaded into it.
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
import { WorkerLink } from './client/link.ts';
import { ModelBook } from './client/models.ts';
import { Recovery } from './client/recovery.ts';
import { NEEDS_MORE_THREADS, NEEDS_WEBGPU_RUNTIME } from './protocol.ts';
import { registryEntry } from './registry.ts';
import {
  EngineError,
  type AttentionEngine,
  type FileProgress,
  type GenerateRequest,
  type GenerationCallbacks,
  type LoadOptions,
  type ModelInfo,
  type ModelSource,
  type RunSummary,
  type ScoreRequest,
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

/** Options of {@link createWorkerEngine}. */
export interface WorkerEngineOptions {
  /** Creates the worker (default: the bundled engine worker). Called again for each restart. */
  factory?: () => Worker;
  /** A model's info changed outside a call (e.g. reloaded on WASM after a device loss). */
  onModelInfo?: (info: ModelInfo) => void;
  /** How long a stopped call may take to end before the worker is restarted (default {@link STOP_GRACE_MS}). */
  stopGraceMs?: number;
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

const defaultFactory = () =>
  new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'sayo-engine' });

/** Why a load failed in a way a fresh worker fixes (the worker's ORT build or thread pool), if it did. */
function restartNeededFor(e: unknown): string | undefined {
  if (!(e instanceof EngineError)) return undefined;
  if (e.message.includes(NEEDS_WEBGPU_RUNTIME)) return 'to enable WebGPU';
  if (e.message.includes(NEEDS_MORE_THREADS)) return 'to give a larger model more WASM threads';
  return undefined;
}

/** Starts the engine worker and returns the engine that talks to it. */
export function createWorkerEngine(options: WorkerEngineOptions = {}): WorkerEngine {
  const stopGraceMs = options.stopGraceMs ?? STOP_GRACE_MS;
  const book = new ModelBook();
  const link: WorkerLink = new WorkerLink({
    factory: options.factory ?? defaultFactory,
    stopGraceMs,
    onUnresponsive: () => void recovery.afterUnresponsiveStop(stopGraceMs),
  });
  const recovery = new Recovery(link, book, options.onModelInfo);

  async function loadTracked(
    source: ModelSource,
    opts: LoadOptions,
    onProgress?: (p: FileProgress) => void,
    signal?: AbortSignal,
  ): Promise<ModelInfo> {
    await askPersistence(source);
    const loaded = await link.call<ModelInfo>({ type: 'load', source, options: opts }, { onProgress }, signal);
    return book.add(source, opts, loaded);
  }

  /** generate / score; a lost WebGPU device restarts the worker, and the call fails saying what became of its model. */
  async function run(
    req: { type: 'generate'; request: GenerateRequest } | { type: 'score'; request: ScoreRequest },
    handle: string,
    callbacks: GenerationCallbacks,
    signal?: AbortSignal,
  ) {
    if (recovery.busy) await recovery.busy;
    try {
      return await link.call<RunSummary>({ ...req, handle: book.workerHandle(handle) }, { callbacks }, signal);
    } catch (e) {
      if (!(e instanceof EngineError) || e.code !== 'device_lost') throw e;
      await recovery.afterDeviceLoss(e.message);
      const t = book.get(handle);
      if (t) callbacks.onModelInfo?.(t.info);
      const after = t
        ? `${t.info.name} was reloaded on WASM; run again.`
        : `The model could not be reloaded: ${book.reloadFailure(handle) ?? 'unknown error'}`;
      throw new EngineError('device_lost', `${e.message} ${after}`);
    }
  }

  return {
    async load(source, opts = {}, onProgress, signal) {
      if (recovery.busy) await recovery.busy;
      try {
        return await loadTracked(source, opts, onProgress, signal);
      } catch (e) {
        const why = restartNeededFor(e);
        if (!why) throw e;
        // A fresh worker with this model first (its ORT build / thread pool chosen for it); the others follow.
        let info: ModelInfo | undefined;
        await recovery.forLoad(why, async () => {
          info = await loadTracked(source, opts, onProgress);
        });
        return info!;
      }
    },
    generate: (handle, request, callbacks, signal) => run({ type: 'generate', request }, handle, callbacks, signal),
    score: (handle, request, callbacks, signal) => run({ type: 'score', request }, handle, callbacks, signal),
    async unload(handle) {
      const t = book.remove(handle);
      if (t) await link.call<void>({ type: 'unload', handle: t.workerHandle });
    },
    destroyWebGpuDevice: () => link.call<boolean>({ type: 'destroy-webgpu-device' }),
    reset() {
      const failure = new EngineError('cancelled', 'The engine restarted for another backend.');
      // The book is emptied before the pending calls fail, as nothing of the old worker is to come back.
      book.clear();
      link.replace(failure);
    },
    terminate() {
      book.clear();
      link.terminate(new EngineError('cancelled', 'The engine worker was terminated.'));
    },
  };
}
