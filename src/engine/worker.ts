/**
 * @file Web Worker entry: serves the worker protocol (worker-handler.ts) with the in-thread engine on the browser
 * platform.
 */
import { browserPlatform } from './browser.ts';
import { createEngine } from './engine.ts';
import type { WorkerRequest } from './protocol.ts';
import { serveEngine, type ReplyPort } from './worker-handler.ts';

const scope = self as unknown as ReplyPort & { onmessage: ((ev: MessageEvent<WorkerRequest>) => void) | null };
const handle = serveEngine(createEngine(browserPlatform()), scope);
scope.onmessage = (ev) => void handle(ev.data);
