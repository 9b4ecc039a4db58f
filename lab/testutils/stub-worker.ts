/**
 * @file A Node worker thread that serves the real worker protocol handler (worker-handler.ts) with the stub engine:
 * the stand-in for the engine Web Worker in the client's headless tests. Its engine id is the thread id.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { createStubEngine } from './stub-engine.ts';
import { serveEngine, type ReplyPort } from '../../src/engine/worker-handler.ts';
import type { WorkerRequest } from '../../src/engine/protocol.ts';

const port = parentPort!;
const handle = serveEngine(createStubEngine(`thread ${threadId}`), port as unknown as ReplyPort);
port.on('message', (req: WorkerRequest) => void handle(req));
