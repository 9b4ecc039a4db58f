/**
 * @file The worker side of the worker protocol (protocol.ts), apart from where it runs: `serveEngine(engine, port)`
 * answers each request on `port` with the engine's result, streaming progress, the prompt info and step records as
 * they exist (step buffers transferred, not copied). The Web Worker (worker.ts) serves its global scope with the
 * in-thread engine; any other port pair (a MessageChannel, a Node worker thread) can be served the same way.
 */
import type { InThreadEngine } from './engine.ts';
import { serializeError } from './errors.ts';
import type { WorkerRequest, WorkerResponse } from './protocol.ts';
import type { GenerationCallbacks, StepRecord } from './types.ts';

/** Where replies go: the worker's global scope, or one end of a port pair. */
export interface ReplyPort {
  postMessage(message: WorkerResponse, transfer: Transferable[]): void;
}

/** What the handler needs of an engine. */
export type ServedEngine = Pick<InThreadEngine, 'load' | 'generate' | 'score' | 'unload' | 'destroyWebGpuDevice'>;

/** The distinct, non-empty ArrayBuffers of a step record (moved to the client instead of copied). */
export function stepTransfer(s: StepRecord): ArrayBuffer[] {
  return [s.attention.buffer, s.imageShare.buffer, s.rowSum.buffer].filter(
    (b, i, all): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0 && all.indexOf(b) === i,
  );
}

/**
 * Returns the function that answers one request. Loads and runs in flight are kept by call id with their
 * AbortController, so a `cancel` message can stop them (a load's downloads, a run between steps).
 */
export function serveEngine(engine: ServedEngine, port: ReplyPort): (req: WorkerRequest) => Promise<void> {
  const running = new Map<number, AbortController>();
  const post = (m: WorkerResponse, transfer: Transferable[] = []) => port.postMessage(m, transfer);

  const callbacks = (id: number): GenerationCallbacks => ({
    onPrompt: (info) => post({ id, type: 'prompt', info }),
    onStep: (step) => post({ id, type: 'step', step }, stepTransfer(step)),
  });

  /** Runs `fn` with an AbortController registered under the call's id (what `cancel` aborts). */
  async function cancellable<T>(id: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctrl = new AbortController();
    running.set(id, ctrl);
    try {
      return await fn(ctrl.signal);
    } finally {
      running.delete(id);
    }
  }

  return async function handle(req: WorkerRequest): Promise<void> {
    const { id } = req;
    try {
      switch (req.type) {
        case 'load': {
          const info = await cancellable(id, (signal) =>
            engine.load(req.source, req.options, (progress) => post({ id, type: 'progress', progress }), signal),
          );
          return post({ id, type: 'result', value: info });
        }
        case 'generate':
          return post({
            id,
            type: 'result',
            value: await cancellable(id, (signal) => engine.generate(req.handle, req.request, callbacks(id), signal)),
          });
        case 'score':
          return post({
            id,
            type: 'result',
            value: await cancellable(id, (signal) => engine.score(req.handle, req.request, callbacks(id), signal)),
          });
        case 'unload':
          await engine.unload(req.handle);
          return post({ id, type: 'result', value: null });
        case 'cancel':
          running.get(req.target)?.abort();
          return post({ id, type: 'result', value: running.has(req.target) });
        case 'destroy-webgpu-device':
          return post({ id, type: 'result', value: engine.destroyWebGpuDevice() });
      }
    } catch (e) {
      post({ id, type: 'error', error: serializeError(e) });
    }
  };
}
