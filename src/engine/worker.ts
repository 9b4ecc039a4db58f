/**
 * @file Web Worker entry: serves the worker protocol (protocol.ts) with the in-thread engine on the browser platform.
 * Step records go out as soon as they exist, with their Float32Array buffers transferred (no copy).
 */
import { browserPlatform } from './browser.ts';
import { createEngine } from './engine.ts';
import { serializeError } from './errors.ts';
import type { WorkerRequest, WorkerResponse } from './protocol.ts';
import type { GenerationCallbacks, StepRecord } from './types.ts';

const engine = createEngine(browserPlatform());
const running = new Map<number, AbortController>();
const scope = self as unknown as { postMessage(m: WorkerResponse, transfer?: Transferable[]): void; onmessage: unknown };

function post(m: WorkerResponse, transfer: Transferable[] = []): void {
  scope.postMessage(m, transfer);
}

function stepTransfer(s: StepRecord): Transferable[] {
  return [s.attention.buffer, s.imageShare.buffer, s.rowSum.buffer].filter(
    (b, i, all): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0 && all.indexOf(b) === i,
  );
}

function callbacks(id: number): GenerationCallbacks {
  return {
    onPrompt: (info) => post({ id, type: 'prompt', info }),
    onStep: (step) => post({ id, type: 'step', step }, stepTransfer(step)),
  };
}

async function handle(req: WorkerRequest): Promise<void> {
  const { id } = req;
  try {
    switch (req.type) {
      case 'load': {
        // A load can be cancelled like a run (Stop): its downloads are aborted.
        const ctrl = new AbortController();
        running.set(id, ctrl);
        try {
          const info = await engine.load(req.source, req.options, (progress) => post({ id, type: 'progress', progress }), ctrl.signal);
          return post({ id, type: 'result', value: info });
        } finally {
          running.delete(id);
        }
      }
      case 'generate':
      case 'score': {
        const ctrl = new AbortController();
        running.set(id, ctrl);
        try {
          const value = req.type === 'generate'
            ? await engine.generate(req.handle, req.request, callbacks(id), ctrl.signal)
            : await engine.score(req.handle, req.request, callbacks(id), ctrl.signal);
          return post({ id, type: 'result', value });
        } finally {
          running.delete(id);
        }
      }
      case 'unload':
        await engine.unload(req.handle);
        return post({ id, type: 'result', value: null });
      case 'cancel':
        running.get(req.target)?.abort();
        return post({ id, type: 'result', value: running.has(req.target) });
      case 'destroy-webgpu-device':
        return post({ id, type: 'result', value: engine.destroyWebGpuDevice() });
    }
  } catch (e) {
    post({ id, type: 'error', error: serializeError(e) });
  }
}

scope.onmessage = (ev: MessageEvent<WorkerRequest>) => void handle(ev.data);
