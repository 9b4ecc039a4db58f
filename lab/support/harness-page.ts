/**
 * @file Engine harness page (e2e-harness.html): drives the real worker engine for Playwright and the benchmark via
 * `window.sayoHarness`. Results come back as plain JSON (typed arrays as number arrays).
 */
import { createWorkerEngine, type WorkerEngine } from '../../src/engine/client.ts';
import type {
  Backend,
  FileProgress,
  LoadOptions,
  ModelInfo,
  ModelSource,
  PromptInfo,
  RunSummary,
  StepRecord,
} from '../../src/engine/types.ts';
import type { TjsFigures } from './tjs-generate.ts';
import type { TjsLoaded, TjsMessage, TjsRequest, TjsResponse } from './tjs-worker.ts';

/** A step record as plain JSON. */
export interface PlainStep extends Omit<StepRecord, 'attention' | 'imageShare' | 'rowSum'> {
  attention: number[];
  imageShare: number[];
  rowSum: number[];
  /** ms since the run started when the page received this step. */
  at: number;
}

/** What one harness run returns. */
export interface HarnessRun {
  info: ModelInfo;
  loadMs: number;
  progress: FileProgress[];
  prompt?: PromptInfo;
  steps: PlainStep[];
  summary?: RunSummary;
  error?: { code: string; message: string };
  modelInfoChanges: ModelInfo[];
  /** Teacher-forced steps of the generated tokens (when `score` was asked). */
  scoreSteps?: PlainStep[];
  /** After a failed run with `destroyDeviceAfter`: a second, short run on the same handle. */
  retry?: { tokens?: number; error?: string };
  /** Wall-clock ms from generate() to the first step record. */
  firstStepMs?: number;
  /** performance.now() at the first step record: ms since the page's navigation started. */
  firstStepSincePageStart?: number;
  runMs: number;
}

/** Options of one harness run. */
export interface HarnessOptions {
  source: ModelSource;
  backend?: Backend | 'auto';
  /** transformers.js dtype (e.g. 'q4'); the source's default when absent. */
  dtype?: LoadOptions['dtype'];
  /** The image, by URL (served by the app) or as base64 bytes. */
  imageUrl?: string;
  imageBase64?: string;
  question: string;
  maxNewTokens?: number;
  minNewTokens?: number;
  captureLayers?: number[];
  /** Also teacher-force the generated tokens and return those steps. */
  score?: boolean;
  /** Destroy the WebGPU device after this many steps (device-loss test). */
  destroyDeviceAfter?: number;
  /** Abort after this many steps (cancel test). */
  cancelAfter?: number;
  /** Keep the engine (and the loaded model, by source) between runs for warm timings. */
  reuse?: boolean;
  /** LoadOptions.opfsAboveBytes: keep files above this size in the origin-private file system. */
  opfsAboveBytes?: number;
  /** LoadOptions.threads: ONNX Runtime threads (a worker's WASM thread pool is sized by its first model). */
  threads?: number;
  /** Engine (worker) of this name: runs of one slot share it (with `reuse`); slots are separate workers (A/B). */
  slot?: string;
}

const plain = (s: StepRecord, at: number): PlainStep => ({
  ...s,
  attention: Array.from(s.attention),
  imageShare: Array.from(s.imageShare),
  rowSum: Array.from(s.rowSum),
  at,
});

const shared = new Map<string, { engine: WorkerEngine; loaded: Map<string, ModelInfo> }>();

/** Step records the page has received over all runs, counted as they arrive: the benchmark polls it while a run is
 * under way (RSS per 128 generated tokens), as the difference from its value when the run started. */
const live = { steps: 0 };

async function run(o: HarnessOptions): Promise<HarnessRun> {
  const slot = o.slot ?? '';
  if (!o.reuse || !shared.has(slot)) {
    shared.get(slot)?.engine.terminate();
    shared.set(slot, { engine: createWorkerEngine(), loaded: new Map() });
  }
  const { engine, loaded } = shared.get(slot)!;
  const key = JSON.stringify([o.source, o.backend, o.dtype, o.threads]);
  const progress: FileProgress[] = [];
  const t0 = performance.now();
  const opts: LoadOptions = {
    backend: o.backend ?? 'auto',
    dtype: o.dtype,
    opfsAboveBytes: o.opfsAboveBytes,
    threads: o.threads,
  };
  const info = loaded.get(key) ?? (await engine.load(o.source, opts, (p) => progress.push(p)));
  loaded.set(key, info);
  const loadMs = performance.now() - t0;
  const bytes = o.imageBase64
    ? Uint8Array.from(atob(o.imageBase64), (c) => c.charCodeAt(0))
    : new Uint8Array(await (await fetch(o.imageUrl!)).arrayBuffer());
  const out: HarnessRun = {
    info,
    loadMs,
    progress,
    steps: [],
    modelInfoChanges: [],
    runMs: 0,
  };
  const ctrl = new AbortController();
  // Steps are kept as received and converted to JSON after the run, so the page does no work while the worker decodes.
  const raw: Array<[StepRecord, number]> = [];
  const r0 = performance.now();
  const request = {
    image: { kind: 'encoded' as const, bytes },
    question: o.question,
    maxNewTokens: o.maxNewTokens,
    minNewTokens: o.minNewTokens,
    captureLayers: o.captureLayers,
  };
  try {
    out.summary = await engine.generate(
      info.handle,
      request,
      {
        onPrompt: (p) => (out.prompt = p),
        onStep: (s) => {
          const at = performance.now() - r0;
          out.firstStepMs ??= at;
          out.firstStepSincePageStart ??= performance.now();
          raw.push([s, at]);
          live.steps++;
          if (o.destroyDeviceAfter === raw.length) void engine.destroyWebGpuDevice();
          if (o.cancelAfter === raw.length) ctrl.abort();
        },
        onModelInfo: (i) => out.modelInfoChanges.push(i),
      },
      ctrl.signal,
    );
  } catch (e) {
    const err = e as { code?: string; message?: string };
    out.error = { code: err.code ?? 'unknown', message: err.message ?? String(e) };
  }
  out.runMs = performance.now() - r0;
  out.steps = raw.map(([s, at]) => plain(s, at));
  if (out.error && o.destroyDeviceAfter !== undefined) {
    out.retry = await engine.generate(info.handle, { ...request, maxNewTokens: 2 }, {}).then(
      (s) => ({ tokens: s.tokens }),
      (e) => ({ error: `${e.code}: ${e.message}` }),
    );
  }
  if (o.score && out.summary) {
    const scoreSteps: PlainStep[] = [];
    await engine.score(
      info.handle,
      { ...request, answer: '', answerTokenIds: out.steps.map((s) => s.tokenId) },
      {
        onStep: (s) => scoreSteps.push(plain(s, 0)),
      },
    );
    out.scoreSteps = scoreSteps;
  }
  return out;
}

/** WebGPU adapter facts as the page sees them (e2e asserts SwiftShader so a missing flag fails loudly). */
async function adapter(): Promise<{
  available: boolean;
  vendor?: string;
  architecture?: string;
  isFallbackAdapter?: boolean;
}> {
  const a = await navigator.gpu?.requestAdapter();
  if (!a) return { available: false };
  const i = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return { available: true, vendor: i.vendor, architecture: i.architecture, isFallbackAdapter: i.isFallbackAdapter };
}

/** One engine kept for the whole page by `load` / `answer` (fault tests: one failure must not poison the next load). */
let pageEngine: { engine: WorkerEngine; last?: ModelInfo } | undefined;

/** Loads a source in the page's engine; rejects with the engine's error ({code, message}). */
async function load(
  source: ModelSource,
  backend: Backend | 'auto' = 'auto',
  o: { downloadTimeoutMs?: number; stopAfterMs?: number } = {},
): Promise<ModelInfo> {
  pageEngine ??= { engine: createWorkerEngine() };
  const ctrl = new AbortController();
  if (o.stopAfterMs !== undefined) setTimeout(() => ctrl.abort(), o.stopAfterMs);
  try {
    const info = await pageEngine.engine.load(
      source,
      { backend, downloadTimeoutMs: o.downloadTimeoutMs },
      undefined,
      ctrl.signal,
    );
    pageEngine.last = info;
    return info;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    throw Object.assign(new Error(err.message ?? String(e)), { code: err.code ?? 'unknown' });
  }
}

/** Answers with the last model `load` gave (or `o.handle`), on sample-01; `o.stopAfterMs` presses Stop then. */
async function answer(
  question: string,
  maxNewTokens: number,
  o: { handle?: string; stopAfterMs?: number } = {},
): Promise<RunSummary> {
  if (!pageEngine?.last) throw new Error('load a model first');
  const bytes = new Uint8Array(await (await fetch('/samples/sample-01.png')).arrayBuffer());
  const ctrl = new AbortController();
  if (o.stopAfterMs !== undefined) setTimeout(() => ctrl.abort(), o.stopAfterMs);
  try {
    return await pageEngine.engine.generate(
      o.handle ?? pageEngine.last.handle,
      { image: { kind: 'encoded', bytes }, question, maxNewTokens },
      {},
      ctrl.signal,
    );
  } catch (e) {
    const err = e as { code?: string; message?: string };
    throw Object.assign(new Error(err.message ?? String(e)), { code: err.code ?? 'unknown' });
  }
}

/** Options of one run of transformers.js's own generate() (the scale benchmark's anchor, lab/support/tjs-worker.ts). */
export interface TjsOptions {
  /** The model folder's URL and dtype, and the WASM threads (the engine worker's): the worker loads them once. */
  url: string;
  dtype?: string | Record<string, string>;
  threads: number;
  imageBase64: string;
  question: string;
  /** Forced length: min_new_tokens = max_new_tokens. */
  tokens: number;
  attentions: boolean;
  /** Also hand back the answer (prompt ids, generated ids, attention rows over the image). */
  answer?: boolean;
}

/** One tjs run: the loaded model's threads, and the run's figures or its error. */
export interface TjsRun extends TjsLoaded {
  figures?: TjsFigures;
  error?: string;
}

/** The page's one transformers.js worker, with the model it loaded. */
let tjsWorker: { worker: Worker; key: string; loaded: Promise<TjsLoaded>; calls: number } | undefined;

function tjsCall<T>(w: NonNullable<typeof tjsWorker>, req: TjsRequest): Promise<T> {
  const id = ++w.calls;
  return new Promise((resolve, reject) => {
    const done = () => {
      w.worker.removeEventListener('message', onMessage);
      w.worker.removeEventListener('error', onError);
    };
    const onMessage = (ev: MessageEvent<TjsResponse>) => {
      if (ev.data.id !== id) return;
      done();
      if ('error' in ev.data) reject(new Error(ev.data.error));
      else resolve(ev.data.value as T);
    };
    const onError = (ev: ErrorEvent) => {
      done();
      reject(new Error(`transformers.js worker: ${ev.message || 'failed to start'}`));
    };
    w.worker.addEventListener('message', onMessage);
    w.worker.addEventListener('error', onError);
    w.worker.postMessage({ ...req, id } satisfies TjsMessage);
  });
}

/** Runs transformers.js generate() in its own worker (started, and the model loaded, by the first call). */
async function tjs(o: TjsOptions): Promise<TjsRun> {
  const key = JSON.stringify([o.url, o.dtype, o.threads]);
  if (tjsWorker?.key !== key) {
    tjsWorker?.worker.terminate();
    const worker = new Worker(new URL('./tjs-worker.ts', import.meta.url), { type: 'module', name: 'tjs-generate' });
    tjsWorker = { worker, key, loaded: Promise.resolve({}), calls: 0 };
    tjsWorker.loaded = tjsCall<TjsLoaded>(tjsWorker, {
      type: 'load',
      url: o.url,
      dtype: o.dtype ?? 'fp32',
      threads: o.threads,
    });
  }
  const w = tjsWorker;
  try {
    const loaded = await w.loaded;
    const image = Uint8Array.from(atob(o.imageBase64), (c) => c.charCodeAt(0));
    const figures = await tjsCall<TjsFigures>(w, {
      type: 'run',
      image,
      question: o.question,
      tokens: o.tokens,
      attentions: o.attentions,
      answer: o.answer,
    });
    return { ...loaded, figures };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const api = { run, adapter, load, answer, tjs };
declare global {
  interface Window {
    sayoHarness: typeof api;
    sayoHarnessLive: typeof live;
  }
}
window.sayoHarness = api;
window.sayoHarnessLive = live;
document.getElementById('status')!.textContent = 'ready';
