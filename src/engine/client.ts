/**
 * @file The browser side of the engine: `createWorkerEngine()` returns an {@link AttentionEngine} whose calls run in
 * the engine Web Worker. Calls are matched to replies by id; an AbortSignal sends a cancel message; progress, the
 * prompt info and each step record reach the callbacks as the worker posts them.
 */
import { deserializeError } from './errors.ts';
import type { WorkerRequest, WorkerResponse } from './protocol.ts';
import {
  EngineError,
  type AttentionEngine,
  type FileProgress,
  type GenerationCallbacks,
  type ModelInfo,
  type RunSummary,
} from './types.ts';

/** A request before its id is assigned (Omit distributed over the union). */
type Unsent = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

type Pending = {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onProgress?: (p: FileProgress) => void;
  callbacks?: GenerationCallbacks;
};

/** The worker engine plus its diagnostics. */
export interface WorkerEngine extends AttentionEngine {
  /** Destroys ORT's WebGPU device inside the worker (device-loss test and diagnostics); false when none. */
  destroyWebGpuDevice(): Promise<boolean>;
  /** Ends the worker; pending calls fail. */
  terminate(): void;
}

/** Starts the engine worker (or wraps a given one) and returns the engine that talks to it. */
export function createWorkerEngine(worker?: Worker): WorkerEngine {
  const w = worker ?? new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'sayo-engine' });
  const pending = new Map<number, Pending>();
  let nextId = 0;

  w.onmessage = (ev: MessageEvent<WorkerResponse>) => {
    const msg = ev.data;
    const p = pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case 'progress':
        return p.onProgress?.(msg.progress);
      case 'prompt':
        return p.callbacks?.onPrompt?.(msg.info);
      case 'step':
        return p.callbacks?.onStep?.(msg.step);
      case 'model-info':
        return p.callbacks?.onModelInfo?.(msg.info);
      case 'result':
        pending.delete(msg.id);
        return p.resolve(msg.value);
      case 'error':
        pending.delete(msg.id);
        return p.reject(deserializeError(msg.error));
    }
  };
  w.onerror = (ev: ErrorEvent) => {
    const err = new EngineError('internal', `The engine worker failed: ${ev.message || 'unknown error'}`);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  function call<T>(req: Unsent, extra: Omit<Pending, 'resolve' | 'reject'> = {}, signal?: AbortSignal): Promise<T> {
    const id = ++nextId;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...extra });
      w.postMessage({ ...req, id } as WorkerRequest);
      if (signal) {
        const cancel = () => w.postMessage({ id: ++nextId, type: 'cancel', target: id } satisfies WorkerRequest);
        if (signal.aborted) cancel();
        else signal.addEventListener('abort', cancel, { once: true });
      }
    });
  }

  return {
    load: (source, options, onProgress) => call<ModelInfo>({ type: 'load', source, options }, { onProgress }),
    generate: (handle, request, callbacks, signal) =>
      call<RunSummary>({ type: 'generate', handle, request }, { callbacks }, signal),
    score: (handle, request, callbacks, signal) => call<RunSummary>({ type: 'score', handle, request }, { callbacks }, signal),
    unload: (handle) => call<void>({ type: 'unload', handle }),
    destroyWebGpuDevice: () => call<boolean>({ type: 'destroy-webgpu-device' }),
    terminate() {
      w.terminate();
      const err = new EngineError('cancelled', 'The engine worker was terminated.');
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    },
  };
}
