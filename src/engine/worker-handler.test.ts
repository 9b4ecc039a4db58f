/**
 * @file The worker protocol handler (worker-handler.ts) driven over a real MessageChannel, with the stub engine: what
 * each request answers, in which order the streamed messages come, that step buffers are moved rather than copied,
 * that `cancel` reaches a run in flight, and that errors cross as {code, name, message}.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerRequest, WorkerResponse } from './protocol.ts';
import { createStubEngine } from '../../lab/testutils/stub-engine.ts';
import { serveEngine, type ReplyPort } from './worker-handler.ts';
import type { GenerateRequest } from './types.ts';

const IMAGE: GenerateRequest['image'] = { kind: 'encoded', bytes: new Uint8Array([1, 2, 3]) };

/** The handler on one end of a channel; the test reads every reply on the other. */
function served() {
  const { port1, port2 } = new MessageChannel();
  const engine = createStubEngine('in-process');
  const handle = serveEngine(engine, port1 as unknown as ReplyPort);
  const replies: WorkerResponse[] = [];
  const waiters: Array<() => void> = [];
  port2.on('message', (m: WorkerResponse) => {
    replies.push(m);
    waiters.splice(0).forEach((w) => w());
  });
  /** Sends a request and resolves with every message of its id once its result or error arrives. */
  const send = async (req: WorkerRequest): Promise<WorkerResponse[]> => {
    void handle(req);
    const ended = () => replies.some((r) => r.id === req.id && (r.type === 'result' || r.type === 'error'));
    while (!ended()) await new Promise<void>((r) => waiters.push(r));
    return replies.filter((r) => r.id === req.id);
  };
  channels.push(port1, port2);
  return { engine, send, replies };
}

const channels: MessagePort[] = [];
afterEach(() => channels.splice(0).forEach((p) => p.close()));

describe('worker protocol handler', () => {
  it('answers a load with its progress, then the model info', async () => {
    const { send } = served();
    const msgs = await send({ id: 1, type: 'load', source: { kind: 'url', url: 'https://example.org/m/' } });
    expect(msgs.map((m) => m.type)).toEqual(['progress', 'result']);
    expect(msgs[0]).toMatchObject({ progress: { file: 'config.json', done: true } });
    expect(msgs[1]).toMatchObject({
      type: 'result',
      value: { handle: 'm1', name: 'url https://example.org/m/ @in-process' },
    });
  });

  it('streams a run step by step before its result and moves the step buffers to the other side', async () => {
    const { send, engine } = served();
    await send({ id: 1, type: 'load', source: { kind: 'registry', id: 'x' } });
    const msgs = await send({ id: 2, type: 'generate', handle: 'm1', request: { image: IMAGE, question: 'steps:3' } });
    expect(msgs.map((m) => m.type)).toEqual(['step', 'step', 'step', 'result']);
    const steps = msgs.flatMap((m) => (m.type === 'step' ? [m.step] : []));
    expect(steps.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(Array.from(steps[2].attention)).toEqual(Array.from(new Float32Array([0.1, 0.2, 0.3, 0.4])));
    // Transferred: the engine's copies are detached once posted.
    expect(engine.posted).toHaveLength(3);
    for (const s of engine.posted)
      expect([s.attention.byteLength, s.imageShare.byteLength, s.rowSum.byteLength]).toEqual([0, 0, 0]);
    expect(msgs[3]).toMatchObject({ value: { tokens: 3, stoppedBy: 'max_tokens' } });
  });

  it('serves score like generate', async () => {
    const { send } = served();
    await send({ id: 1, type: 'load', source: { kind: 'registry', id: 'x' } });
    const msgs = await send({
      id: 2,
      type: 'score',
      handle: 'm1',
      request: { image: IMAGE, question: 'steps:2', answer: 'yes', answerTokenIds: [1, 2] },
    });
    expect(msgs.map((m) => m.type)).toEqual(['step', 'step', 'result']);
  });

  it('cancel stops the run in flight (it ends with stoppedBy cancel) and says whether there was one', async () => {
    const { send, replies } = served();
    await send({ id: 1, type: 'load', source: { kind: 'registry', id: 'x' } });
    const run = send({ id: 2, type: 'generate', handle: 'm1', request: { image: IMAGE, question: 'until-cancel' } });
    while (!replies.some((r) => r.id === 2 && r.type === 'step')) await new Promise((r) => setTimeout(r, 2));
    expect((await send({ id: 3, type: 'cancel', target: 2 })).at(-1)).toMatchObject({ type: 'result', value: true });
    const msgs = await run;
    expect(msgs.at(-1)).toMatchObject({ type: 'result', value: { stoppedBy: 'cancel' } });
    expect((await send({ id: 4, type: 'cancel', target: 2 })).at(-1)).toMatchObject({ type: 'result', value: false });
  });

  it('sends engine failures as plain {code, name, message}, and keeps serving after them', async () => {
    const { send } = served();
    const bad = await send({ id: 1, type: 'load', source: { kind: 'url', url: 'https://example.org/bad/' } });
    expect(bad).toEqual([
      {
        id: 1,
        type: 'error',
        error: {
          code: 'missing_file',
          name: 'EngineError',
          message: 'https://example.org/bad/: config.json could not be loaded (HTTP 404).',
        },
      },
    ]);
    const unknown = await send({
      id: 2,
      type: 'generate',
      handle: 'm9',
      request: { image: IMAGE, question: 'steps:1' },
    });
    expect(unknown).toMatchObject([{ type: 'error', error: { code: 'bad_input' } }]);
    const plain = await send({ id: 3, type: 'load', source: { kind: 'registry', id: 'x' } });
    const failed = await send({ id: 4, type: 'generate', handle: 'm1', request: { image: IMAGE, question: 'fail' } });
    expect(plain.at(-1)?.type).toBe('result');
    expect(failed).toMatchObject([
      { type: 'error', error: { code: 'internal', message: expect.stringContaining('stub run failed') } },
    ]);
  });

  it("unloads (result null) and answers destroy-webgpu-device with the engine's answer", async () => {
    const { send } = served();
    await send({ id: 1, type: 'load', source: { kind: 'registry', id: 'x' } });
    expect(await send({ id: 2, type: 'destroy-webgpu-device' })).toEqual([{ id: 2, type: 'result', value: true }]);
    expect(await send({ id: 3, type: 'unload', handle: 'm1' })).toEqual([{ id: 3, type: 'result', value: null }]);
    expect(
      await send({ id: 4, type: 'generate', handle: 'm1', request: { image: IMAGE, question: 'steps:1' } }),
    ).toMatchObject([{ type: 'error', error: { code: 'bad_input' } }]);
  });
});
