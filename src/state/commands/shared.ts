/**
 * @file What every engine command shares: the two sides, the answer length, how an image reaches the engine, how an
 * engine failure reads to the user, the per-frame batching of streamed steps, and the context the commands run in.
 */
import type { AttentionEngine, ImageInput, ModelInfo, StepRecord } from '../../engine/types.ts';
import type { Side } from '../../session/types.ts';
import type { LensStore } from '../store.ts';

export const SIDES: Side[] = ['base', 'trained'];
/** Tokens generated per answer. */
export const MAX_NEW_TOKENS = 32;

/** Bytes of a base64 data URL (the image as the engine receives it). */
export function dataUrlToImage(dataUrl: string): ImageInput {
  const comma = dataUrl.indexOf(',');
  const mime = dataUrl.slice(5, dataUrl.indexOf(';'));
  const bin = atob(dataUrl.slice(comma + 1));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return { kind: 'encoded', bytes, mime };
}

/** A user-facing message for an engine failure (EngineError codes cross the worker as plain data). */
export function describeError(e: unknown, what: string): string {
  const code = (e as { code?: string })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  const hint: Record<string, string> = {
    missing_file: 'a file of the checkpoint is missing',
    corrupt_model: 'the checkpoint is corrupt',
    unsupported_architecture: 'this architecture is not supported',
    bad_image: 'the image could not be used',
    bad_input: 'the input was rejected',
    device_lost: 'the GPU device was lost',
    out_of_memory: 'out of memory',
  };
  return `${what}: ${code && hint[code] ? `${hint[code]} — ` : ''}${msg}`;
}

/**
 * Collects streamed steps and hands them over at most once per animation frame (every 16 ms outside a browser), so
 * a fast model does not re-render the page for every token.
 */
export function stepBatcher(deliver: (steps: StepRecord[]) => void) {
  let pending: StepRecord[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const steps = pending;
    pending = [];
    deliver(steps);
  };
  const schedule =
    typeof requestAnimationFrame === 'function' ? requestAnimationFrame : (f: () => void) => setTimeout(f, 16);
  return {
    push(step: StepRecord) {
      pending.push(step);
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    /** Delivers what is pending now. */
    flush,
    /** Drops what is pending (after Stop nothing more reaches the screen). */
    drop() {
      pending = [];
    },
  };
}

/** True for the error a cancelled call ends with. */
export const isCancel = (e: unknown) =>
  (e as { code?: string })?.code === 'cancelled' || (e as Error)?.name === 'AbortError';

/** A loaded side: the registry/custom id it was loaded for, on which backend choice, and its info. */
export interface Loaded {
  id: string;
  backend: string;
  info: ModelInfo;
}

/** What the commands share: the engine, the store, and the loaded sides. */
export interface CommandContext {
  engine: AttentionEngine;
  store: LensStore;
  handles: Partial<Record<Side, Loaded>>;
}
