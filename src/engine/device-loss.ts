/**
 * @file Whether ORT's WebGPU device is still there, as the in-thread engine sees it. Once lost it stays lost: ORT's
 * wasm module is unusable after that (even for WASM sessions), so no later load or WebGPU run in this engine is tried,
 * and the worker client restarts the worker (client/recovery.ts).
 */
import type { LoadedModel } from './loaded.ts';
import type { EnginePlatform } from './platform.ts';
import { EngineError } from './types.ts';

export class WebGpuHealth {
  private lostReason: string | undefined;

  constructor(private readonly platform: EnginePlatform) {}

  /** The device was lost for `reason` (the first reason is kept). Passed to the platform's device watch. */
  readonly markLost = (reason: string): void => {
    this.lostReason ??= reason;
  };

  /** Before a load: ORT cannot create sessions after a device loss. */
  assertCanLoad(): void {
    if (this.lostReason !== undefined) {
      throw new EngineError(
        'device_lost',
        `The WebGPU device was lost (${this.lostReason}); ONNX Runtime must be restarted (a new worker).`,
      );
    }
  }

  /** Before a run: a WebGPU model cannot answer after a device loss. */
  assertCanRun(m: LoadedModel): void {
    if (m.info.backend === 'webgpu' && this.lostReason !== undefined) {
      throw new EngineError(
        'device_lost',
        `The WebGPU device was lost earlier (${this.lostReason}); ${m.info.name} must be reloaded.`,
      );
    }
  }

  /**
   * A run on `m` failed with `err`: on WebGPU a lost device surfaces as whatever ORT call failed first, so the device
   * itself is asked. Returns `err`, or a `device_lost` error when the device is gone.
   */
  async explainFailure(m: LoadedModel, err: EngineError): Promise<EngineError> {
    if (m.info.backend !== 'webgpu') return err;
    const reason =
      this.lostReason ??
      (await this.platform.webGpuDeviceLost?.()) ??
      (err.code === 'device_lost' ? err.message : undefined);
    if (reason === undefined) return err;
    this.lostReason = reason;
    return new EngineError('device_lost', `The WebGPU device was lost during the answer (${reason}).`);
  }
}
