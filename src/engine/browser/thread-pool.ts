/**
 * @file onnxruntime-web's WASM thread pool: one per worker, sized when ORT starts (its first session), so by the first
 * model this worker loads (a later model that the rule gives more threads gets a fresh worker: NEEDS_MORE_THREADS, see
 * client.ts). More than one thread needs SharedArrayBuffer, which a page has only when cross-origin isolated
 * (served with COOP: same-origin and COEP: credentialless or require-corp; build/security-headers.ts); ORT then
 * starts its pthreads as module workers from the URL of its own glue (a blob: URL here: worker-src allows blob:).
 */
import { env, ModelRegistry } from '@huggingface/transformers';
import type { ResolvedSource, ThreadChoice } from '../platform.ts';
import { NEEDS_MORE_THREADS } from '../protocol.ts';
import { threadsForDecoder } from '../threads.ts';
import { EngineError, type Backend } from '../types.ts';

/** Why a model runs on one WASM thread where the rule would give it more. */
export const NOT_ISOLATED_NOTE =
  'This page is not cross-origin isolated (its server sends no Cross-Origin-Opener-Policy: same-origin and ' +
  'Cross-Origin-Embedder-Policy headers), so WebAssembly threads are unavailable and ONNX Runtime runs one thread';

/** The threads the rule (threads.ts) gives this source: its decoder's bytes (graph + external data) of `dtype`. */
async function ruleThreads(
  source: ResolvedSource,
  config: Record<string, unknown>,
  dtype: string | Record<string, string>,
  cores: number,
): Promise<number> {
  if (cores < 2 || !source.fileSize) return 1;
  try {
    const files = await ModelRegistry.get_model_files(source.modelId, {
      config: config as any,
      dtype: dtype as any,
      device: 'wasm',
    });
    const sizes = await Promise.all(
      files.filter((f) => /(^|\/)decoder_model_merged[^/]*$/.test(f)).map((f) => source.fileSize!(f)),
    );
    return threadsForDecoder(
      sizes.reduce<number>((a, b) => a + (b ?? 0), 0),
      cores,
    );
  } catch {
    return 1;
  }
}

const plural = (n: number) => `${n} thread${n > 1 ? 's' : ''}`;

const wasmEnv = () => env.backends.onnx.wasm as { numThreads?: number };

/** The pool of this worker: unsized until the first model, then fixed with the model that sized it. */
export class WasmThreadPool {
  private sized: { threads: number; by: string } | undefined;

  /** The threads ONNX Runtime actually runs with (it falls back to 1 without SharedArrayBuffer). */
  inUse(): number | undefined {
    return wasmEnv().numThreads;
  }

  /**
   * The threads of a model about to load on `backend` (`requested`, else the rule). Sizes the pool on the first model;
   * a later WASM model the pool is too small for fails with NEEDS_MORE_THREADS in a WASM-only worker (`wasmOnly`).
   */
  async threadsFor(
    source: ResolvedSource,
    backend: Backend,
    config: Record<string, unknown>,
    dtype: string | Record<string, string>,
    requested: number | undefined,
    wasmOnly: boolean,
  ): Promise<ThreadChoice | undefined> {
    if (backend !== 'wasm') {
      // WebGPU: ORT's CPU side stays on one thread, as it ran before the app was cross-origin isolated.
      if (!this.sized) this.size(1, source.name);
      return undefined;
    }
    const isolated = self.crossOriginIsolated === true;
    const cores = typeof navigator === 'undefined' ? 1 : navigator.hardwareConcurrency || 1;
    const wanted = requested ?? (await ruleThreads(source, config, dtype, cores));
    if (!this.sized) {
      const threads = isolated ? wanted : 1;
      this.size(threads, source.name);
      return {
        threads,
        note: threads < wanted ? `${NOT_ISOLATED_NOTE} (this model would run ${plural(wanted)}).` : undefined,
      };
    }
    const pool = this.sized;
    // A pool too small for this model: in a WASM-only worker (every model in it on WASM) the client starts a fresh
    // worker with this model first and reloads the others into its pool; a WebGPU worker keeps its pool (a fresh
    // one sized for WASM could not take its WebGPU models back) and says so.
    if (isolated && pool.threads < wanted && wasmOnly) {
      throw new EngineError(
        'bad_input',
        `${NEEDS_MORE_THREADS} (${pool.by}: ${plural(pool.threads)}; ${source.name}: ${plural(wanted)}).`,
      );
    }
    const note = !isolated
      ? `${NOT_ISOLATED_NOTE} (this model would run ${plural(wanted)}).`
      : `ONNX Runtime's thread pool in this engine was sized by ${pool.by} (${plural(pool.threads)}), a WebGPU model's engine; this model alone would run ${plural(wanted)}.`;
    return { threads: pool.threads, note: pool.threads < wanted ? note : undefined };
  }

  private size(threads: number, by: string): void {
    wasmEnv().numThreads = threads;
    this.sized = { threads, by };
  }
}
