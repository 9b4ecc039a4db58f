/**
 * @file Worker restarts. ONNX Runtime's state inside a worker cannot always be repaired in place, so the client starts
 * a fresh worker and loads every model it had into it again, under the same public handles, telling the page each
 * model's new info. Three events lead here:
 * - a lost WebGPU device (ORT's wasm module then fails even WASM sessions): WebGPU models come back on WASM;
 * - a Stop the worker did not act on (its thread stuck in synchronous code): the models come back as they were;
 * - a load the worker cannot take (a WebGPU load in a worker on the WASM-only ORT build, or a model that needs more
 *   WASM threads than the worker's pool has): that model loads first in the fresh worker, the others after it.
 * One restart at a time: calls made while it runs wait for it ({@link Recovery.busy}).
 */
import type { ModelBook, Tracked } from './models.ts';
import type { WorkerLink } from './link.ts';
import { EngineError, type LoadOptions, type ModelInfo } from '../types.ts';

/** No restart, or the one under way (what it failed the pending calls with, and when it ends). */
export type RecoveryState = { kind: 'idle' } | { kind: 'restarting'; failure: EngineError; done: Promise<void> };

export class Recovery {
  private state: RecoveryState = { kind: 'idle' };

  constructor(
    private readonly link: WorkerLink,
    private readonly book: ModelBook,
    private readonly onModelInfo?: (info: ModelInfo) => void,
  ) {}

  /** The restart under way, if any. */
  get busy(): Promise<void> | null {
    return this.state.kind === 'restarting' ? this.state.done : null;
  }

  /** After a WebGPU device loss: a fresh worker with every WebGPU model on WASM. */
  afterDeviceLoss(reason: string): Promise<void> {
    const failure = new EngineError('device_lost', `${reason} The engine restarted; run again.`);
    return this.restart(failure, (t) => (t.info.backend === 'webgpu' ? { ...t.options, backend: 'wasm' } : t.options));
  }

  /** After a Stop the worker did not answer within the grace period: a fresh worker with every model as it was. */
  afterUnresponsiveStop(graceMs: number): Promise<void> {
    const failure = new EngineError(
      'cancelled',
      `Stopped: the engine did not respond within ${graceMs / 1000} s, so it was restarted and the other models reloaded.`,
    );
    return this.restart(failure, (t) => t.options);
  }

  /** For a load the current worker cannot take: a fresh worker where `first` loads it before the others come back. */
  forLoad(why: string, first: () => Promise<void>): Promise<void> {
    return this.restart(
      new EngineError('cancelled', `The engine restarted ${why}; run again.`),
      (t) => t.options,
      first,
    );
  }

  /**
   * Fresh worker: pending calls fail with `failure`, `first` runs in it, then every model known before the restart is
   * loaded again with the options `optionsFor` gives it. A failing `first` fails the restart after the others are back.
   */
  private restart(
    failure: EngineError,
    optionsFor: (t: Tracked) => LoadOptions,
    first?: () => Promise<void>,
  ): Promise<void> {
    if (this.state.kind === 'restarting') return this.state.done;
    const done = (async () => {
      this.link.replace(failure);
      const previous = this.book.snapshot();
      const firstDone = first
        ? first().then(
            () => undefined,
            (e: unknown) => e,
          )
        : undefined;
      const firstError = await firstDone;
      for (const [handle, t] of previous) await this.reload(handle, t, optionsFor(t));
      if (firstError !== undefined) throw firstError;
    })().finally(() => (this.state = { kind: 'idle' }));
    this.state = { kind: 'restarting', failure, done };
    return done;
  }

  private async reload(handle: string, t: Tracked, options: LoadOptions): Promise<void> {
    try {
      const loaded = await this.link.call<ModelInfo>({ type: 'load', source: t.source, options });
      const reason =
        options.backend === 'wasm' && t.info.backend === 'webgpu'
          ? 'WASM: reloaded after the WebGPU device was lost'
          : loaded.backendReason;
      const info = this.book.reloaded(handle, t, options, loaded, reason);
      this.onModelInfo?.(info);
    } catch (e) {
      this.book.reloadFailed(handle, (e as Error).message);
    }
  }
}
