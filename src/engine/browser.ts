/**
 * @file The browser platform (runs inside the engine's Web Worker): transformers.js on onnxruntime-web, WebGPU when
 * `navigator.gpu.requestAdapter()` yields a hardware adapter, else WASM (a software adapter only when WebGPU is asked
 * for). ORT's wasm comes from the app's /ort/ (never a CDN) and is kept in Cache Storage like the model files.
 *
 * Every model source is mounted under a virtual folder `/__sayo__/<mount>/` that transformers.js loads as a local
 * model; `env.fetch` maps it to the real place (the app's /models/<path>/, a URL, or the files the user picked).
 * A custom cache keeps downloaded files in Cache Storage under their real URL plus a revision, so a second visit
 * loads from cache and a re-exported model is never served stale. A file Cache Storage refuses (Chromium answers
 * QuotaExceededError or UnknownError for files of some hundred MB) is kept in the origin-private file system under
 * the same key instead (the page asks navigator.storage.persist() before loading a model by URL, see client.ts);
 * when that fails too, the model's info says why (`storageNote`). Picked files are not cached.
 */
import { env, ModelRegistry } from '@huggingface/transformers';
import { decodeImage } from './image.ts';
import { toEngineError } from './errors.ts';
import { checkHttpUrl, fetchLimited, FetchLimitError, readBodyText } from './fetch-limited.ts';
import { DOWNLOAD_LIMITS } from '../core/limits.ts';
import type { EnginePlatform, ResolvedSource } from './platform.ts';
import { NEEDS_MORE_THREADS, NEEDS_WEBGPU_RUNTIME } from './protocol.ts';
import { registryEntry } from './registry.ts';
import { threadsForDecoder } from './threads.ts';
import { EngineError, type Backend, type ModelSource } from './types.ts';

declare const __SAYO_MODELS_REV__: string | undefined;

const VIRTUAL_ROOT = '/__sayo__/';
const CACHE_NAME = 'sayo-lens-models';
/** The origin-private file system folder of the files Cache Storage refused (or that exceed `opfsAboveBytes`). */
export const OPFS_DIR = 'sayo-lens-models';

/** What became of one file the cache was asked to keep. */
interface Kept {
  file: string;
  where: 'cache' | 'opfs' | 'none';
  why?: string;
}

type Mount =
  | { kind: 'url'; base: string; rev: string | null; signal?: AbortSignal; timeoutMs?: number; opfsAboveBytes?: number; kept: Kept[] }
  | { kind: 'files'; files: Map<string, Blob> };

const mounts = new Map<string, Mount>();
let mountCounter = 0;

/** The app's base URL (where /models/ and /ort/ are served). */
function appBase(): string {
  return new URL(import.meta.env?.BASE_URL ?? '/', self.location.origin).href;
}

/** Splits a virtual URL/path into its mount and the file path inside it. */
function parseVirtual(url: string): { mount: Mount; file: string } | null {
  const pathname = new URL(url, self.location.origin).pathname;
  if (!pathname.startsWith(VIRTUAL_ROOT)) return null;
  const rest = decodeURIComponent(pathname.slice(VIRTUAL_ROOT.length));
  const slash = rest.indexOf('/');
  const mount = mounts.get(rest.slice(0, slash));
  return mount ? { mount, file: rest.slice(slash + 1) } : null;
}

function notFound(file: string): Response {
  return new Response(`404: ${file} not found`, { status: 404, headers: { 'Content-Type': 'text/plain' } });
}

/** Maps virtual paths to real fetches / picked blobs; everything else goes to the real fetch. */
async function virtualFetch(input: string | URL, init?: RequestInit): Promise<Response> {
  const hit = parseVirtual(String(input));
  if (!hit) return fetch(input, init);
  const { mount, file } = hit;
  if (mount.kind === 'files') {
    const blob = mount.files.get(file);
    return blob
      ? new Response(blob, { status: 200, headers: { 'Content-Length': String(blob.size) } })
      : notFound(file);
  }
  // Every wait bounded (connect, idle, size; fetch-limited.ts); Stop aborts through the mount's signal.
  const t = mount.timeoutMs ?? DOWNLOAD_LIMITS.connectTimeoutMs;
  const limits = { ...DOWNLOAD_LIMITS, connectTimeoutMs: t, idleTimeoutMs: t, maxBytes: file.endsWith('.json') ? DOWNLOAD_LIMITS.maxJsonBytes : DOWNLOAD_LIMITS.maxFileBytes };
  const { response: res } = await fetchLimited(new URL(file, mount.base).href, { headers: init?.headers, signal: mount.signal }, limits);
  // A server answering a missing model file with an HTML page (SPA fallback) must not pass as the file.
  if (res.ok && /text\/html/i.test(res.headers.get('content-type') ?? '') && !file.endsWith('.html')) return notFound(file);
  return res;
}

/**
 * Cache Storage keyed by real URL + revision; virtual keys of uncacheable mounts are never stored. ORT's runtime
 * files under the app's /ort/ (which transformers.js reads through this cache too) are kept under ONNX Runtime's
 * version, so a warm visit does not download the runtime again and an upgrade is never served stale.
 */
function realKey(key: string): string | null {
  const ortBase = new URL('ort/', appBase()).href;
  if (key.startsWith(ortBase)) {
    const u = new URL(key);
    const version = (env.backends.onnx as { versions?: { web?: string } }).versions?.web;
    if (!version) return null;
    u.searchParams.set('sayo-ort', version);
    return u.href;
  }
  const hit = parseVirtual(key);
  if (!hit || hit.mount.kind !== 'url' || hit.mount.rev === null) return null;
  const u = new URL(hit.file, hit.mount.base);
  u.searchParams.set('sayo-rev', hit.mount.rev);
  return u.href;
}

/** The error's name and message, short (DOMExceptions carry the useful part in `name`). */
function errorText(e: unknown): string {
  if (e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException)) {
    const { name, message } = e as Error;
    return message && !message.startsWith(name) ? `${name}: ${message}` : name || message;
  }
  return String(e);
}

/** The file name of a cache key in the origin-private file system: SHA-256 of the key (URL + revision), hex. */
async function opfsName(key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function opfsFolder(create: boolean): Promise<FileSystemDirectoryHandle> {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) throw new Error('this browser has no origin-private file system');
  return (await navigator.storage.getDirectory()).getDirectoryHandle(OPFS_DIR, { create });
}

async function opfsRead(key: string): Promise<Response | undefined> {
  try {
    const file = await (await (await opfsFolder(false)).getFileHandle(await opfsName(key))).getFile();
    // A write that did not finish leaves the file empty (createWritable applies its data only on close).
    return file.size > 0 ? new Response(file, { status: 200, headers: { 'Content-Length': String(file.size) } }) : undefined;
  } catch {
    return undefined;
  }
}

async function opfsWrite(key: string, body: Blob): Promise<void> {
  const dir = await opfsFolder(true);
  const name = await opfsName(key);
  const handle = await dir.getFileHandle(name, { create: true });
  try {
    if ('createWritable' in handle) {
      const w = await handle.createWritable();
      await w.write(body);
      await w.close();
    } else {
      // Workers of browsers without createWritable: the synchronous access handle, a chunk at a time.
      const sync = await (handle as any).createSyncAccessHandle();
      try {
        sync.truncate(0);
        const CHUNK = 16 << 20;
        for (let at = 0; at < body.size; at += CHUNK) sync.write(new Uint8Array(await body.slice(at, at + CHUNK).arrayBuffer()), { at });
        sync.flush();
      } finally {
        sync.close();
      }
    }
  } catch (e) {
    await dir.removeEntry(name).catch(() => undefined);
    throw e;
  }
}

/**
 * transformers.js's cache: Cache Storage, else the origin-private file system. `put` never throws (transformers.js
 * would only log it); what happened to each file of a URL mount is recorded on the mount for its `storageNote`.
 */
const modelCache = {
  async match(key: string): Promise<Response | undefined> {
    const k = realKey(key);
    if (!k) return undefined;
    const hit = typeof caches === 'undefined' ? undefined : await (await caches.open(CACHE_NAME)).match(k);
    return hit ?? opfsRead(k);
  },
  async put(key: string, response: Response): Promise<void> {
    const k = realKey(key);
    if (!k || !response.ok) return;
    const hit = parseVirtual(key);
    const m = hit?.mount.kind === 'url' ? hit.mount : undefined;
    const record = (where: Kept['where'], why?: string) => m?.kept.push({ file: hit!.file, where, why });
    const body = await response.blob();
    let refused: string;
    if (m?.opfsAboveBytes !== undefined && body.size > m.opfsAboveBytes) {
      refused = `skipped (larger than ${m.opfsAboveBytes} bytes)`;
    } else if (typeof caches === 'undefined') {
      refused = 'unavailable';
    } else {
      try {
        await (await caches.open(CACHE_NAME)).put(k, new Response(body, { headers: response.headers }));
        record('cache');
        return;
      } catch (e) {
        refused = errorText(e);
      }
    }
    try {
      await opfsWrite(k, body);
      record('opfs');
    } catch (e) {
      record('none', `Cache Storage: ${refused}; origin-private file system: ${errorText(e)}`);
    }
  },
};

/** Why files of a mount will not be there next visit (or may be evicted); undefined when all were kept. */
async function storageNote(m: Mount): Promise<string | undefined> {
  if (m.kind !== 'url') return undefined;
  const lost = m.kept.filter((k) => k.where === 'none');
  if (lost.length) {
    return `${lost.map((k) => k.file).join(', ')} could not be kept in this browser, so ${lost.length === 1 ? 'it is' : 'they are'} downloaded again on the next visit (${lost[0].why}).`;
  }
  if (m.kept.some((k) => k.where === 'opfs')) {
    const persisted = await navigator.storage?.persisted?.().catch(() => false);
    if (!persisted) {
      return 'Large model files are kept in the origin-private file system, but the browser did not grant persistent storage: it may remove them when disk space runs low.';
    }
  }
  return undefined;
}

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

/**
 * Which ORT wasm build this worker runs, fixed by its first model load. 'asyncify' carries the WebGPU EP; 'plain' is
 * WASM-only, about half the download and faster (no asyncify instrumentation: a shorter cold start and prefill). A worker that started plain cannot add
 * WebGPU later; client.ts starts a fresh worker when WebGPU is requested then.
 */
let runtime: 'unset' | 'plain' | 'asyncify' = 'unset';

function useRuntime(kind: 'plain' | 'asyncify'): void {
  if (runtime !== 'unset') return;
  runtime = kind;
  const ortBase = new URL('ort/', appBase()).href;
  const file = kind === 'plain' ? 'ort-wasm-simd-threaded' : 'ort-wasm-simd-threaded.asyncify';
  (env.backends.onnx.wasm as { wasmPaths?: unknown }).wasmPaths = { mjs: `${ortBase}${file}.mjs`, wasm: `${ortBase}${file}.wasm` };
}

/**
 * onnxruntime-web's WASM thread pool: one per worker, sized when ORT starts (its first session), so by the first model
 * this worker loads (a later model that the rule gives more threads gets a fresh worker: NEEDS_MORE_THREADS, see
 * client.ts). More than one thread needs SharedArrayBuffer, which a page has only when cross-origin isolated
 * (served with COOP: same-origin and COEP: credentialless or require-corp; build/security-headers.ts); ORT then
 * starts its pthreads as module workers from the URL of its own glue (a blob: URL here: worker-src allows blob:).
 */
let pool: { threads: number; by: string } | undefined;

/** Why a model runs on one WASM thread where the rule would give it more. */
export const NOT_ISOLATED_NOTE =
  'This page is not cross-origin isolated (its server sends no Cross-Origin-Opener-Policy: same-origin and ' +
  'Cross-Origin-Embedder-Policy headers), so WebAssembly threads are unavailable and ONNX Runtime runs one thread';

/** The threads the rule (threads.ts) gives this source: its decoder's bytes (graph + external data) of `dtype`. */
async function ruleThreads(source: ResolvedSource, config: Record<string, unknown>, dtype: string | Record<string, string>, cores: number): Promise<number> {
  if (cores < 2 || !source.fileSize) return 1;
  try {
    const files = await ModelRegistry.get_model_files(source.modelId, { config: config as any, dtype: dtype as any, device: 'wasm' });
    const sizes = await Promise.all(files.filter((f) => /(^|\/)decoder_model_merged[^/]*$/.test(f)).map((f) => source.fileSize!(f)));
    return threadsForDecoder(sizes.reduce<number>((a, b) => a + (b ?? 0), 0), cores);
  } catch {
    return 1;
  }
}

/**
 * Whether an adapter is a software one (SwiftShader, or the browser says so): "auto" then prefers WASM, which is
 * several times faster than WebGPU emulated on the CPU.
 */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const i = adapter.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  if (i?.isFallbackAdapter || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter) return true;
  return /swiftshader|llvmpipe|software/i.test([i?.vendor, i?.architecture, i?.device, i?.description].filter(Boolean).join(' '));
}

/** Strips one shared leading folder ("sayo-mini/config.json" → "config.json") when config.json is not at the top. */
function normaliseFiles(files: Record<string, Blob>): Map<string, Blob> {
  const entries = Object.entries(files).map(([k, v]) => [k.replace(/^\.?\/+/, ''), v] as const);
  if (!entries.some(([k]) => k === 'config.json')) {
    const first = entries.find(([k]) => k.endsWith('/config.json'));
    if (first) {
      const prefix = first[0].slice(0, -'config.json'.length);
      return new Map(entries.filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    }
  }
  return new Map(entries);
}

function mount(m: Mount, name: string, dtype?: ResolvedSource['dtype']): ResolvedSource {
  const id = `src${++mountCounter}`;
  mounts.set(id, m);
  // Read through the model cache (and fill it), so a second visit works offline like the files transformers.js loads.
  const readText = async (file: string) => {
    const key = `${VIRTUAL_ROOT}${id}/${file}`;
    const cached = await modelCache.match(key).catch(() => undefined);
    if (cached) return cached.text();
    let failure = 'network error';
    const res = await virtualFetch(key).catch((e: Error) => {
      failure = e.message;
      if (e instanceof FetchLimitError) throw toEngineError(e, 'download_failed', name);
      return null;
    });
    if (!res?.ok) throw new EngineError('missing_file', `${name}: ${file} could not be loaded (${res ? `HTTP ${res.status}` : failure}).`);
    const text = await readBodyText(res).catch((e: Error) => {
      throw toEngineError(e, 'download_failed', name);
    });
    await modelCache.put(key, new Response(text, { headers: { 'Content-Type': 'application/json' } })).catch(() => undefined);
    return text;
  };
  // A file's size without its bytes: the picked file, the model cache (a second visit, offline too), else a HEAD request.
  const fileSize = async (file: string): Promise<number | undefined> => {
    if (m.kind === 'files') return m.files.get(file)?.size;
    const cached = await modelCache.match(`${VIRTUAL_ROOT}${id}/${file}`).catch(() => undefined);
    void cached?.body?.cancel().catch(() => undefined);
    const known = Number(cached?.headers.get('content-length') ?? NaN);
    if (known > 0) return known;
    const t = m.timeoutMs ?? DOWNLOAD_LIMITS.connectTimeoutMs;
    const head = await fetchLimited(new URL(file, m.base).href, { method: 'HEAD', signal: m.signal }, { ...DOWNLOAD_LIMITS, connectTimeoutMs: t, idleTimeoutMs: t, maxBytes: Infinity }).catch(() => null);
    const size = Number(head?.response.ok ? (head.response.headers.get('content-length') ?? NaN) : NaN);
    return size > 0 ? size : undefined;
  };
  return { modelId: id, name, dtype, readText, fileSize, release: () => void mounts.delete(id), storageNote: () => storageNote(m) };
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}

async function adapterInfo(): Promise<{ adapter: GPUAdapter | null; why: string }> {
  if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
    return { adapter: null, why: 'this browser has no WebGPU (navigator.gpu is missing)' };
  }
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  return { adapter, why: adapter ? '' : 'navigator.gpu.requestAdapter() returned no adapter' };
}

/** The browser platform used by the engine worker. */
export function browserPlatform(): EnginePlatform {
  configureEnv();
  const webgpu = env.backends.onnx.webgpu as { device?: GPUDevice } | undefined;
  const watched = new WeakSet<GPUDevice>();
  return {
    kind: 'browser',
    async resolveSource(source: ModelSource, signal?: AbortSignal, timeoutMs?: number, opfsAboveBytes?: number) {
      const byUrl = (base: string, rev: string | null, name: string, dtype?: ResolvedSource['dtype']) =>
        mount({ kind: 'url', base, rev, signal, timeoutMs, opfsAboveBytes, kept: [] }, name, dtype);
      switch (source?.kind) {
        case 'registry': {
          const e = registryEntry(source.id);
          if (!e) throw new EngineError('bad_input', `No registry entry "${source.id}" in models/registry.json.`);
          const dtype = e.precisions[0]?.dtype;
          if (e.kind === 'embedded' && e.path) {
            const rev = typeof __SAYO_MODELS_REV__ === 'string' ? __SAYO_MODELS_REV__ : null;
            return byUrl(new URL(`models/${e.path}/`, appBase()).href, rev, e.name, dtype);
          }
          if (e.kind === 'url' && e.url) return byUrl(withSlash(e.url), e.revision ?? 'main', e.name, dtype);
          throw new EngineError('bad_input', `${e.name} has no ONNX export yet. ${e.description}`);
        }
        case 'url': {
          let base: string;
          try {
            base = withSlash(checkHttpUrl(new URL(source.url, appBase()).href).href);
          } catch (e) {
            const why = e instanceof FetchLimitError ? e.message : `${source.url}: not a URL (accepted: http:// or https:// URLs)`;
            throw new EngineError('bad_input', why);
          }
          return byUrl(base, 'url', base.replace(/\/$/, '').split('/').slice(-1)[0] || base);
        }
        case 'files': {
          const files = normaliseFiles(source.files ?? {});
          if (!files.has('config.json')) throw new EngineError('missing_file', 'The picked folder has no config.json (pick the model folder itself).');
          return mount({ kind: 'files', files }, 'picked folder');
        }
        default:
          throw new EngineError('bad_input', 'This source is not available in the browser (pick the folder or give a URL).');
      }
    },
    async chooseBackend(pref: Backend | 'auto' | undefined) {
      if (pref === 'wasm' || pref === 'cpu') {
        useRuntime('plain');
        return { backend: 'wasm', reason: 'WASM (requested)' };
      }
      const { adapter, why } = await adapterInfo();
      const i = adapter?.info;
      const name = [i?.vendor, i?.architecture].filter(Boolean).join('/') || 'unknown';
      const software = !!adapter && isSoftwareAdapter(adapter);
      if (adapter && software && pref !== 'webgpu') {
        useRuntime('plain');
        return { backend: 'wasm', reason: `WASM: the only WebGPU adapter (${name}) is a software fallback, slower than WASM` };
      }
      if (adapter && runtime === 'plain') throw new EngineError('bad_input', `${NEEDS_WEBGPU_RUNTIME}.`);
      if (adapter) {
        useRuntime('asyncify');
        return { backend: 'webgpu', reason: `WebGPU adapter: ${name}${software ? ', software fallback' : ''}${pref === 'webgpu' ? ' (requested)' : ''}` };
      }
      if (pref === 'webgpu') throw new EngineError('bad_input', `WebGPU was requested but ${why}.`);
      useRuntime('plain');
      return { backend: 'wasm', reason: `WASM: ${why}` };
    },
    async threads(source, backend, config, dtype, requested) {
      const wasm = env.backends.onnx.wasm as { numThreads?: number };
      if (backend !== 'wasm') {
        // WebGPU: ORT's CPU side stays on one thread, as it ran before the app was cross-origin isolated.
        if (!pool) {
          wasm.numThreads = 1;
          pool = { threads: 1, by: source.name };
        }
        return undefined;
      }
      const isolated = self.crossOriginIsolated === true;
      const cores = typeof navigator === 'undefined' ? 1 : navigator.hardwareConcurrency || 1;
      const wanted = requested ?? (await ruleThreads(source, config, dtype, cores));
      const plural = (n: number) => `${n} thread${n > 1 ? 's' : ''}`;
      if (!pool) {
        const threads = isolated ? wanted : 1;
        wasm.numThreads = threads;
        pool = { threads, by: source.name };
        return { threads, note: threads < wanted ? `${NOT_ISOLATED_NOTE} (this model would run ${plural(wanted)}).` : undefined };
      }
      // A pool too small for this model: in a WASM-only worker (every model in it on WASM) the client starts a fresh
      // worker with this model first and reloads the others into its pool; a WebGPU worker keeps its pool (a fresh
      // one sized for WASM could not take its WebGPU models back) and says so.
      if (isolated && pool.threads < wanted && runtime === 'plain') {
        throw new EngineError('bad_input', `${NEEDS_MORE_THREADS} (${pool.by}: ${plural(pool.threads)}; ${source.name}: ${plural(wanted)}).`);
      }
      const note = !isolated
        ? `${NOT_ISOLATED_NOTE} (this model would run ${plural(wanted)}).`
        : `ONNX Runtime's thread pool in this engine was sized by ${pool.by} (${plural(pool.threads)}), a WebGPU model's engine; this model alone would run ${plural(wanted)}.`;
      return { threads: pool.threads, note: pool.threads < wanted ? note : undefined };
    },
    threadsInUse: () => (env.backends.onnx.wasm as { numThreads?: number }).numThreads,
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
      device.lost.then((info) => onLost(info.message || String(info.reason ?? 'unknown reason')));
    },
    async webGpuDeviceLost() {
      const device = webgpu?.device;
      if (!device) return undefined;
      const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 500));
      return Promise.race([device.lost.then((info) => info.message || String(info.reason ?? 'unknown reason')), timeout]);
    },
    destroyWebGpuDevice() {
      const device = webgpu?.device;
      if (!device) return false;
      device.destroy();
      return true;
    },
  };
}
