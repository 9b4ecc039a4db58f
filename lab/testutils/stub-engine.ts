/**
 * @file A scripted stand-in for the in-thread engine, for tests of the worker protocol and the client's recovery (what
 * is under test there is the messaging and the restarts, not transformers.js). The question of a request says what
 * the run does:
 *   "steps:N"              N step records, then a result;
 *   "lose-device-after:N"  N steps, then `device_lost` when the model is on WebGPU;
 *   "hang-after:N"         N steps, then synchronous code that never returns (a worker that reads no more messages);
 *   "until-cancel"         a step every few ms until the run's signal is aborted (stoppedBy 'cancel');
 *   "crash"                an exception nobody catches, thrown from a timer (the worker's error event);
 *   "fail"                 a plain error (internal).
 * Like the browser platform, a worker whose first model was WASM has the WASM-only runtime: a WebGPU load then fails
 * with NEEDS_WEBGPU_RUNTIME. A source whose URL contains "bad" fails to load before that check, "corrupt" after it. Model names say what was loaded and by
 * which engine instance (`engineId`), so a test can see that a restart reloaded the same folder in a new worker.
 */
import { NEEDS_WEBGPU_RUNTIME } from '../../src/engine/protocol.ts';
import type { ServedEngine } from '../../src/engine/worker-handler.ts';
import {
  EngineError,
  type ModelInfo,
  type ModelSource,
  type RunSummary,
  type StepRecord,
} from '../../src/engine/types.ts';

export function stubStep(index: number): StepRecord {
  return {
    index,
    tokenId: 100 + index,
    text: `t${index}`,
    entropy: 0.5,
    layers: [0],
    heads: 1,
    n: 4,
    attention: new Float32Array([0.1, 0.2, 0.3, 0.4]),
    imageShare: new Float32Array([0.9]),
    rowSum: new Float32Array([1]),
  };
}

async function describeSource(source: ModelSource): Promise<string> {
  switch (source.kind) {
    case 'files': {
      const names = Object.keys(source.files).sort();
      const config = await source.files['config.json']?.text();
      return `folder[${names.join(',')}] config=${config}`;
    }
    case 'url':
      return `url ${source.url}`;
    case 'registry':
      return `registry ${source.id}`;
    case 'path':
      return `path ${source.path}`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createStubEngine(engineId: string): ServedEngine & { posted: StepRecord[] } {
  const models = new Map<string, ModelInfo>();
  let counter = 0;
  let runtime: 'unset' | 'plain' | 'asyncify' = 'unset';
  const posted: StepRecord[] = [];

  function run(
    handle: string,
    question: string,
    onStep: ((s: StepRecord) => void) | undefined,
    signal?: AbortSignal,
  ): Promise<RunSummary> {
    const m = models.get(handle);
    if (!m)
      return Promise.reject(
        new EngineError('bad_input', `No model is loaded under handle "${handle}" (unloaded or never loaded).`),
      );
    const [what, arg] = question.split(':');
    const n = Number(arg ?? 0);
    const step = (i: number) => {
      const s = stubStep(i);
      posted.push(s);
      onStep?.(s);
    };
    const summary = (tokens: number, stoppedBy: RunSummary['stoppedBy']): RunSummary => ({
      tokens,
      stoppedBy,
      text: `${m.name} answered`,
      prefillMs: 1,
      decodeMs: 1,
    });
    return (async () => {
      switch (what) {
        case 'steps':
          for (let i = 0; i < n; i++) step(i);
          return summary(n, 'max_tokens');
        case 'lose-device-after':
          for (let i = 0; i < n; i++) step(i);
          if (m.backend === 'webgpu')
            throw new EngineError('device_lost', 'The WebGPU device was lost during the answer (destroyed).');
          return summary(n, 'max_tokens');
        case 'hang-after':
          for (let i = 0; i < n; i++) step(i);
          await sleep(20); // lets the steps leave before the thread is stuck
          for (;;) {
            // never returns, reads no message
          }
        case 'until-cancel': {
          let i = 0;
          while (!signal?.aborted) {
            step(i++);
            await sleep(5);
          }
          return summary(i, 'cancel');
        }
        case 'crash':
          setTimeout(() => {
            throw new Error('the stub engine crashed');
          });
          return new Promise<RunSummary>(() => undefined);
        default:
          throw new Error(`stub run failed (${question})`);
      }
    })();
  }

  return {
    posted,
    async load(source, options = {}, onProgress, signal) {
      if (source.kind === 'url' && source.url.includes('bad'))
        throw new EngineError('missing_file', `${source.url}: config.json could not be loaded (HTTP 404).`);
      const backend = options.backend === 'wasm' || options.backend === 'cpu' ? 'wasm' : 'webgpu';
      if (backend === 'webgpu' && runtime === 'plain') throw new EngineError('bad_input', `${NEEDS_WEBGPU_RUNTIME}.`);
      // Sessions are created after the backend is chosen: a broken graph fails only where the runtime fits.
      if (source.kind === 'url' && source.url.includes('corrupt'))
        throw new EngineError('corrupt_model', `${source.url}: protobuf parsing failed.`);
      if (runtime === 'unset') runtime = backend === 'wasm' ? 'plain' : 'asyncify';
      onProgress?.({ file: 'config.json', loaded: 10, total: 10, done: true });
      if (signal?.aborted) throw new EngineError('cancelled', 'Loading was stopped.');
      const handle = `m${++counter}`;
      const info: ModelInfo = {
        handle,
        name: `${await describeSource(source)} @${engineId}`,
        backend,
        backendReason: `${backend} (stub)`,
        modelType: 'stub',
        attentionLayers: [0],
        numLayers: 1,
        numHeads: 1,
        cellSize: 32,
        processor: { patch_size: 16, merge_size: 2, min_pixels: 1, max_pixels: 1 << 20 },
      };
      models.set(handle, info);
      return info;
    },
    generate: (handle, request, cb, signal) => run(handle, request.question, cb.onStep, signal),
    score: (handle, request, cb, signal) => run(handle, request.question, cb.onStep, signal),
    async unload(handle) {
      models.delete(handle);
    },
    destroyWebGpuDevice: () => runtime === 'asyncify',
  };
}
