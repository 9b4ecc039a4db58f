/**
 * @file The page-side engine client (client.ts) against real worker threads that serve the real protocol handler with
 * the stub engine: restarts and reloads after a device loss, after a Stop the worker does not answer (a thread stuck
 * in synchronous code, terminated), and for a load the worker cannot take; handles that survive restarts; the
 * reloaded model is the same folder; worker crashes fail the calls in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerEngine, type WorkerEngine } from './client.ts';
import { threadWorker, type ThreadWorker } from '../../lab/testutils/node-worker.ts';
import type { GenerateRequest, ModelInfo, StepRecord } from './types.ts';

const IMAGE: GenerateRequest['image'] = { kind: 'encoded', bytes: new Uint8Array([1, 2, 3]) };
const STUB_WORKER = new URL('../../lab/testutils/stub-worker.ts', import.meta.url);
const GRACE_MS = 400;

const engines: WorkerEngine[] = [];
let workers: ThreadWorker[] = [];

function start({ listen = true } = {}) {
  const infos: ModelInfo[] = [];
  const engine = createWorkerEngine({
    factory: () => {
      const w = threadWorker(STUB_WORKER);
      workers.push(w);
      return w;
    },
    onModelInfo: listen ? (i) => infos.push(i) : undefined,
    stopGraceMs: GRACE_MS,
  });
  engines.push(engine);
  return { engine, infos };
}

afterEach(async () => {
  engines.splice(0).forEach((e) => e.terminate());
  await Promise.all(workers.map((w) => w.exited));
  workers = [];
});

/** Runs `question` on `handle`, collecting steps and the model-info changes the call reports. */
async function ask(
  engine: WorkerEngine,
  handle: string,
  question: string,
  signal?: AbortSignal,
  onStep?: (s: StepRecord) => void,
) {
  const steps: StepRecord[] = [];
  const changed: ModelInfo[] = [];
  try {
    const summary = await engine.generate(
      handle,
      { image: IMAGE, question },
      { onStep: (s) => (steps.push(s), onStep?.(s)), onModelInfo: (i) => changed.push(i) },
      signal,
    );
    return { summary, steps, changed };
  } catch (e) {
    return { error: e as Error & { code?: string }, steps, changed };
  }
}

const thread = (w: ThreadWorker) => `@thread ${w.thread.threadId}`;

describe('worker engine client, headless', () => {
  it('answers through the worker: steps in order, the result, handles of its own', async () => {
    const { engine } = start();
    const a = await engine.load({ kind: 'registry', id: 'a' });
    expect(a.handle).toBe('h1');
    expect(a.name).toBe(`registry a ${thread(workers[0])}`);
    const r = await ask(engine, a.handle, 'steps:4');
    expect(r.steps.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect(r.summary).toMatchObject({ tokens: 4, stoppedBy: 'max_tokens' });
    expect(workers).toHaveLength(1);
  });

  it('a device lost mid-answer: the call fails with device_lost after its first steps, the worker is replaced, the WebGPU model is back on WASM under its handle, and the next answer comes', async () => {
    const { engine, infos } = start();
    const a = await engine.load({ kind: 'registry', id: 'a' });
    const b = await engine.load({ kind: 'registry', id: 'b' }, { backend: 'wasm' });
    expect(a.backend).toBe('webgpu');
    const lost = await ask(engine, a.handle, 'lose-device-after:2');
    expect(lost.steps).toHaveLength(2);
    expect(lost.error?.code).toBe('device_lost');
    expect(workers).toHaveLength(2);
    expect(lost.error?.message).toBe(
      `The WebGPU device was lost during the answer (destroyed). registry a ${thread(workers[1])} was reloaded on WASM; run again.`,
    );
    expect(await workers[0].exited).toBe(1);
    // Both models were reloaded into the new worker, the WebGPU one on WASM, under their own handles.
    expect(infos.map((i) => [i.handle, i.backend, i.name])).toEqual([
      ['h1', 'wasm', `registry a ${thread(workers[1])}`],
      ['h2', 'wasm', `registry b ${thread(workers[1])}`],
    ]);
    expect(infos[0].backendReason).toBe('WASM: reloaded after the WebGPU device was lost');
    expect(lost.changed).toEqual([infos[0]]);
    const again = await ask(engine, a.handle, 'steps:3');
    expect(again.summary).toMatchObject({ tokens: 3, text: `registry a ${thread(workers[1])} answered` });
    expect((await ask(engine, b.handle, 'steps:1')).summary?.tokens).toBe(1);
  });

  it('without an onModelInfo listener the reload is kept all the same: the call reports the model on WASM, and it answers from the new worker', async () => {
    const { engine } = start({ listen: false });
    const a = await engine.load({ kind: 'registry', id: 'a' });
    const lost = await ask(engine, a.handle, 'lose-device-after:1');
    expect(lost.error?.code).toBe('device_lost');
    expect(lost.changed.map((i) => [i.handle, i.backend, i.name])).toEqual([
      [a.handle, 'wasm', `registry a ${thread(workers[1])}`],
    ]);
    expect((await ask(engine, a.handle, 'steps:1')).summary?.text).toBe(`registry a ${thread(workers[1])} answered`);
  });

  it('Stop on a hung worker: after the grace period the call fails with cancelled, the thread is terminated, both models come back and answer', async () => {
    const { engine, infos } = start();
    const a = await engine.load({ kind: 'registry', id: 'a' });
    const b = await engine.load({ kind: 'registry', id: 'b' });
    const stop = new AbortController();
    const t0 = performance.now();
    const hung = await ask(engine, a.handle, 'hang-after:1', stop.signal, () => stop.abort());
    const waited = performance.now() - t0;
    expect(hung.steps).toHaveLength(1);
    expect(hung.error?.code).toBe('cancelled');
    expect(hung.error?.message).toBe(
      `Stopped: the engine did not respond within ${GRACE_MS / 1000} s, so it was restarted and the other models reloaded.`,
    );
    expect(waited).toBeGreaterThanOrEqual(GRACE_MS - 5);
    // The stuck thread is really gone (terminate ends it mid-loop), and a second one serves both models.
    expect(await workers[0].exited).toBe(1);
    expect(workers).toHaveLength(2);
    await engine.load({ kind: 'registry', id: 'c' }); // waits for the restart to finish
    expect(infos.map((i) => i.handle)).toEqual([a.handle, b.handle]);
    expect((await ask(engine, b.handle, 'steps:2')).summary?.text).toBe(`registry b ${thread(workers[1])} answered`);
    expect((await ask(engine, a.handle, 'steps:2')).summary?.tokens).toBe(2);
  }, 20_000);

  it('Stop on a worker that answers: the run ends with stoppedBy cancel and the worker is kept', async () => {
    const { engine, infos } = start();
    const a = await engine.load({ kind: 'registry', id: 'a' });
    const stop = new AbortController();
    const r = await ask(engine, a.handle, 'until-cancel', stop.signal, (s) => s.index === 2 && stop.abort());
    expect(r.summary?.stoppedBy).toBe('cancel');
    await new Promise((res) => setTimeout(res, GRACE_MS + 200));
    expect(workers).toHaveLength(1);
    expect(infos).toEqual([]);
    expect((await ask(engine, a.handle, 'steps:1')).summary?.tokens).toBe(1);
  });

  it('a reload after a restart loads the same picked folder (its files cross to the new worker again)', async () => {
    const { engine, infos } = start();
    const files = {
      'config.json': new Blob(['{"model_type":"stub"}']),
      'onnx/decoder_model_merged.onnx': new Blob([new Uint8Array(64)]),
    };
    const picked = await engine.load({ kind: 'files', files });
    const folder = 'folder[config.json,onnx/decoder_model_merged.onnx] config={"model_type":"stub"}';
    expect(picked.name).toBe(`${folder} ${thread(workers[0])}`);
    const stop = new AbortController();
    await ask(engine, picked.handle, 'hang-after:1', stop.signal, () => stop.abort());
    await engine.load({ kind: 'registry', id: 'other' });
    expect(infos.map((i) => [i.handle, i.name])).toEqual([[picked.handle, `${folder} ${thread(workers[1])}`]]);
    // And again after a second restart (a device loss this time): still that folder.
    const lost = await ask(engine, picked.handle, 'lose-device-after:0');
    expect(lost.error?.code).toBe('device_lost');
    expect(lost.changed.map((i) => i.name)).toEqual([`${folder} ${thread(workers[2])}`]);
  }, 20_000);

  it('a WebGPU load in a worker on the WASM-only runtime: a fresh worker loads it first, then the WASM model, all under stable handles', async () => {
    const { engine, infos } = start();
    const b = await engine.load({ kind: 'registry', id: 'b' }, { backend: 'wasm' });
    const a = await engine.load({ kind: 'registry', id: 'a' }, { backend: 'webgpu' });
    expect(workers).toHaveLength(2);
    expect([a.handle, a.backend, a.name]).toEqual(['h2', 'webgpu', `registry a ${thread(workers[1])}`]);
    expect(infos.map((i) => [i.handle, i.backend, i.name])).toEqual([
      ['h1', 'wasm', `registry b ${thread(workers[1])}`],
    ]);
    expect((await ask(engine, b.handle, 'steps:1')).summary?.tokens).toBe(1);
  });

  it('when the load that needed a fresh worker fails there, the models loaded before still come back', async () => {
    const { engine, infos } = start();
    const b = await engine.load({ kind: 'registry', id: 'b' }, { backend: 'wasm' });
    // Fails in the old worker for its runtime, then in the new one for its broken graph.
    await expect(
      engine.load({ kind: 'url', url: 'https://example.org/corrupt/' }, { backend: 'webgpu' }),
    ).rejects.toMatchObject({ code: 'corrupt_model' });
    expect(workers).toHaveLength(2);
    expect(infos.map((i) => i.handle)).toEqual([b.handle]);
    expect((await ask(engine, b.handle, 'steps:2')).summary?.text).toBe(`registry b ${thread(workers[1])} answered`);
  });

  it('an exception nobody catches in the worker fails the call in flight with internal', async () => {
    const { engine } = start();
    const a = await engine.load({ kind: 'registry', id: 'a' });
    const r = await ask(engine, a.handle, 'crash');
    expect(r.error?.code).toBe('internal');
    expect(r.error?.message).toBe('The engine worker failed: the stub engine crashed');
  });

  it('reset fails calls in flight with cancelled and starts over with nothing loaded; unknown handles are bad_input', async () => {
    const { engine, infos } = start();
    const a = await engine.load({ kind: 'registry', id: 'a' });
    const run = ask(engine, a.handle, 'until-cancel');
    await new Promise((res) => setTimeout(res, 50));
    engine.reset();
    const r = await run;
    expect(r.error).toMatchObject({ code: 'cancelled', message: 'The engine restarted for another backend.' });
    expect(infos).toEqual([]);
    expect((await ask(engine, a.handle, 'steps:1')).error).toMatchObject({ code: 'bad_input' });
    const c = await engine.load({ kind: 'registry', id: 'c' });
    expect(c.name).toBe(`registry c ${thread(workers[1])}`);
    await engine.unload(c.handle);
    expect((await ask(engine, c.handle, 'steps:1')).error).toMatchObject({ code: 'bad_input' });
  });
});
