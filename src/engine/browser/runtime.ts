/**
 * @file Runtime and adapter choice: which onnxruntime-web wasm build this worker runs, and which backend a load gets.
 * WebGPU when `navigator.gpu.requestAdapter()` yields a hardware adapter, else WASM (a software adapter only when
 * WebGPU is asked for). ORT's wasm comes from the app's /ort/ (never a CDN).
 */
import { env } from '@huggingface/transformers';
import type { BackendChoice } from '../platform.ts';
import { NEEDS_WEBGPU_RUNTIME } from '../protocol.ts';
import { EngineError, type Backend } from '../types.ts';
import { appBase } from './mounts.ts';

/**
 * Which ORT wasm build this worker runs, fixed by its first model load. 'asyncify' carries the WebGPU EP; 'plain' is
 * WASM-only, about half the download and faster (no asyncify instrumentation: a shorter cold start and prefill; the
 * figures are in docs/benchmarks.md). A worker that started plain cannot add
 * WebGPU later; client.ts starts a fresh worker when WebGPU is requested then.
 */
export class OrtBuild {
  private kind: 'unset' | 'plain' | 'asyncify' = 'unset';

  /** True once the WASM-only build is fixed (no WebGPU in this worker). */
  get wasmOnly(): boolean {
    return this.kind === 'plain';
  }

  /** Fixes the build on first use; later calls keep the first choice. */
  use(kind: 'plain' | 'asyncify'): void {
    if (this.kind !== 'unset') return;
    this.kind = kind;
    const ortBase = new URL('ort/', appBase()).href;
    const file = kind === 'plain' ? 'ort-wasm-simd-threaded' : 'ort-wasm-simd-threaded.asyncify';
    (env.backends.onnx.wasm as { wasmPaths?: unknown }).wasmPaths = {
      mjs: `${ortBase}${file}.mjs`,
      wasm: `${ortBase}${file}.wasm`,
    };
  }
}

/**
 * Whether an adapter is a software one (SwiftShader, or the browser says so): "auto" then prefers WASM, which is
 * several times faster than WebGPU emulated on the CPU.
 */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const i = adapter.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  if (i?.isFallbackAdapter || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter) return true;
  return /swiftshader|llvmpipe|software/i.test(
    [i?.vendor, i?.architecture, i?.device, i?.description].filter(Boolean).join(' '),
  );
}

async function adapterInfo(): Promise<{ adapter: GPUAdapter | null; why: string }> {
  if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
    return { adapter: null, why: 'this browser has no WebGPU (navigator.gpu is missing)' };
  }
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  return { adapter, why: adapter ? '' : 'navigator.gpu.requestAdapter() returned no adapter' };
}

/** The backend for a load asking for `pref`, fixing the worker's ORT build on the first load. */
export async function chooseBrowserBackend(
  build: OrtBuild,
  pref: Backend | 'auto' | undefined,
): Promise<BackendChoice> {
  if (pref === 'wasm' || pref === 'cpu') {
    build.use('plain');
    return { backend: 'wasm', reason: 'WASM (requested)' };
  }
  const { adapter, why } = await adapterInfo();
  const i = adapter?.info;
  const name = [i?.vendor, i?.architecture].filter(Boolean).join('/') || 'unknown';
  const software = !!adapter && isSoftwareAdapter(adapter);
  if (adapter && software && pref !== 'webgpu') {
    build.use('plain');
    return {
      backend: 'wasm',
      reason: `WASM: the only WebGPU adapter (${name}) is a software fallback, slower than WASM`,
    };
  }
  if (adapter && build.wasmOnly) throw new EngineError('bad_input', `${NEEDS_WEBGPU_RUNTIME}.`);
  if (adapter) {
    build.use('asyncify');
    return {
      backend: 'webgpu',
      reason: `WebGPU adapter: ${name}${software ? ', software fallback' : ''}${pref === 'webgpu' ? ' (requested)' : ''}`,
    };
  }
  if (pref === 'webgpu') throw new EngineError('bad_input', `WebGPU was requested but ${why}.`);
  build.use('plain');
  return { backend: 'wasm', reason: `WASM: ${why}` };
}
