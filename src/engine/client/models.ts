/**
 * @file The models the client has loaded, under public handles of its own: the handle a model has inside the current
 * worker changes each time the worker restarts, the public one never does. Each entry keeps what is needed to load
 * the model again (its source and options).
 */
import { EngineError, type LoadOptions, type ModelInfo, type ModelSource } from '../types.ts';

/** A model as the client knows it: how to load it again, and its handle inside the current worker. */
export interface Tracked {
  source: ModelSource;
  options: LoadOptions;
  info: ModelInfo;
  workerHandle: string;
}

export class ModelBook {
  private readonly tracked = new Map<string, Tracked>();
  /** Why a model could not be reloaded after a restart (by public handle). */
  private readonly reloadFailures = new Map<string, string>();
  private handles = 0;

  /** Records a model the current worker loaded; returns its info under a new public handle. */
  add(source: ModelSource, options: LoadOptions, loaded: ModelInfo): ModelInfo {
    const info = { ...loaded, handle: `h${++this.handles}` };
    this.tracked.set(info.handle, { source, options, info, workerHandle: loaded.handle });
    return info;
  }

  get(handle: string): Tracked | undefined {
    return this.tracked.get(handle);
  }

  /** The model's handle in the current worker, or a bad_input error for an unknown public handle. */
  workerHandle(handle: string): string {
    const t = this.tracked.get(handle);
    if (!t)
      throw new EngineError('bad_input', `No model is loaded under handle "${handle}" (unloaded or never loaded).`);
    return t.workerHandle;
  }

  /** The models as they are now (a restart reloads this list while new loads may add to the book). */
  snapshot(): Array<[string, Tracked]> {
    return [...this.tracked];
  }

  /** A model loaded again in a fresh worker: its new worker handle and info, under the same public handle. */
  reloaded(handle: string, t: Tracked, options: LoadOptions, loaded: ModelInfo, backendReason: string): ModelInfo {
    Object.assign(t, { options, workerHandle: loaded.handle, info: { ...loaded, handle, backendReason } });
    return t.info;
  }

  /** A model that could not be loaded again: forgotten, with the reason kept for the call that asks. */
  reloadFailed(handle: string, why: string): void {
    this.tracked.delete(handle);
    this.reloadFailures.set(handle, why);
  }

  reloadFailure(handle: string): string | undefined {
    return this.reloadFailures.get(handle);
  }

  remove(handle: string): Tracked | undefined {
    const t = this.tracked.get(handle);
    this.tracked.delete(handle);
    return t;
  }

  clear(): void {
    this.tracked.clear();
    this.reloadFailures.clear();
  }
}
