/**
 * @file The browser platform (runs inside the engine's Web Worker): transformers.js on onnxruntime-web. This file
 * configures transformers.js once and assembles the platform from its parts:
 * - browser/mounts.ts: folder mounting (`/__sayo__/<mount>/` virtual folders, the fetch that serves them);
 * - browser/sources.ts: which mount each model source becomes;
 * - browser/storage.ts: the model cache (Cache Storage, else the origin-private file system) and its storageNote;
 * - browser/runtime.ts: the worker's ORT wasm build and the WebGPU / WASM choice;
 * - browser/thread-pool.ts: the worker's WASM thread pool.
 * ORT's build, its thread pool and the mounts belong to the worker (one ONNX Runtime per worker), so they are module
 * state, shared by every platform object made here.
 */
import { env } from '@huggingface/transformers';
import { decodeImage } from './image.ts';
import type { EnginePlatform } from './platform.ts';
import { VIRTUAL_ROOT, virtualFetch } from './browser/mounts.ts';
import { OrtBuild, chooseBrowserBackend } from './browser/runtime.ts';
import { resolveBrowserSource } from './browser/sources.ts';
import { modelCache } from './browser/storage.ts';
import { WasmThreadPool } from './browser/thread-pool.ts';

export { OPFS_DIR } from './browser/storage.ts';
export { isSoftwareAdapter } from './browser/runtime.ts';
export { NOT_ISOLATED_NOTE } from './browser/thread-pool.ts';

const build = new OrtBuild();
const pool = new WasmThreadPool();

let configured = false;
function configureEnv(): void {
  if (configured) return;
  configured = true;
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.localModelPath = VIRTUAL_ROOT;
  env.useBrowserCache = false;
  env.useCustomCache = true;
  env.customCache = modelCache as any;
  env.fetch = virtualFetch as any;
  (env.backends.onnx.wasm as { proxy?: boolean }).proxy = false;
}

const lossReason = (info: GPUDeviceLostInfo) => info.message || String(info.reason ?? 'unknown reason');

/** The browser platform used by the engine worker. */
export function browserPlatform(): EnginePlatform {
  configureEnv();
  const webgpu = env.backends.onnx.webgpu as { device?: GPUDevice } | undefined;
  const watched = new WeakSet<GPUDevice>();
  return {
    kind: 'browser',
    async resolveSource(source, signal, timeoutMs, opfsAboveBytes) {
      return resolveBrowserSource(source, { signal, timeoutMs, opfsAboveBytes });
    },
    chooseBackend: (pref) => chooseBrowserBackend(build, pref),
    threads: (source, backend, config, dtype, requested) =>
      pool.threadsFor(source, backend, config, dtype, requested, build.wasmOnly),
    threadsInUse: () => pool.inUse(),
    decodeImage,
    yieldToEvents: () =>
      new Promise((resolve) => {
        const ch = new MessageChannel();
        ch.port1.onmessage = () => resolve();
        ch.port2.postMessage(null);
      }),
    watchWebGpuDevice(onLost) {
      const device = webgpu?.device;
      if (!device || watched.has(device)) return;
      watched.add(device);
      device.lost.then((info) => onLost(lossReason(info)));
    },
    async webGpuDeviceLost() {
      const device = webgpu?.device;
      if (!device) return undefined;
      const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 500));
      return Promise.race([device.lost.then(lossReason), timeout]);
    },
    destroyWebGpuDevice() {
      const device = webgpu?.device;
      if (!device) return false;
      device.destroy();
      return true;
    },
  };
}
