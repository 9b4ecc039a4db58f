/**
 * @file The page's end of the worker protocol: one engine worker at a time, calls matched to replies by id, progress /
 * prompt / step messages routed to the call's callbacks. An AbortSignal sends a `cancel`; a stopped call that has not
 * ended `stopGraceMs` later (the worker's thread is stuck in synchronous code and reads no message) is reported to
 * `onUnresponsive`, which restarts the worker (recovery.ts).
 */
import { deserializeError } from '../errors.ts';
import type { WorkerRequest, WorkerResponse } from '../protocol.ts';
import { EngineError, type FileProgress, type GenerationCallbacks } from '../types.ts';

/** A request before its id is assigned (Omit distributed over the union). */
export type Unsent = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

/** Where a call's streamed messages go. */
export interface CallListeners {
  onProgress?: (p: FileProgress) => void;
  callbacks?: GenerationCallbacks;
}

interface Pending extends CallListeners {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export interface WorkerLinkOptions {
  factory: () => Worker;
  /** How long a stopped call may take to end before its worker counts as unresponsive. */
  stopGraceMs: number;
  /** A stopped call did not end within the grace period, and its worker is still the current one. */
  onUnresponsive: () => void;
}

export class WorkerLink {
  private worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(private readonly options: WorkerLinkOptions) {
    this.worker = this.spawn();
  }

  /** Sends a request; resolves with its result, rejects with its error (or when the worker is replaced). */
  call<T>(req: Unsent, listeners: CallListeners = {}, signal?: AbortSignal): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...listeners });
      this.worker.postMessage({ ...req, id } as WorkerRequest);
      if (signal) {
        const cancel = () => this.cancel(id);
        if (signal.aborted) cancel();
        else signal.addEventListener('abort', cancel, { once: true });
      }
    });
  }

  /** Starts a fresh worker, ends the old one and fails every pending call with `failure`. */
  replace(failure: Error): void {
    const old = this.worker;
    this.worker = this.spawn();
    old.terminate();
    this.failAll(failure);
  }

  /** Ends the worker for good; pending calls fail with `failure`. */
  terminate(failure: Error): void {
    this.worker.terminate();
    this.failAll(failure);
  }

  private cancel(target: number): void {
    const worker = this.worker;
    worker.postMessage({ id: ++this.nextId, type: 'cancel', target } satisfies WorkerRequest);
    setTimeout(() => {
      if (this.pending.has(target) && this.worker === worker) this.options.onUnresponsive();
    }, this.options.stopGraceMs);
  }

  private spawn(): Worker {
    const worker = this.options.factory();
    worker.onmessage = (ev: MessageEvent<WorkerResponse>) => this.dispatch(ev.data);
    worker.onerror = (ev: ErrorEvent) =>
      this.failAll(new EngineError('internal', `The engine worker failed: ${ev.message || 'unknown error'}`));
    return worker;
  }

  private dispatch(msg: WorkerResponse): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case 'progress':
        return p.onProgress?.(msg.progress);
      case 'prompt':
        return p.callbacks?.onPrompt?.(msg.info);
      case 'step':
        return p.callbacks?.onStep?.(msg.step);
      case 'result':
        this.pending.delete(msg.id);
        return p.resolve(msg.value);
      case 'error':
        this.pending.delete(msg.id);
        return p.reject(deserializeError(msg.error));
    }
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
