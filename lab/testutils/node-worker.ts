/**
 * @file Runs a TypeScript module in a Node worker thread (tsx compiles it there) and gives it the shape of a Web
 * Worker (postMessage / onmessage / onerror / terminate), so the real page-side engine client can drive it: a thread
 * that can hang in synchronous code, be terminated and be replaced, as the engine Web Worker can.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker as NodeWorker } from 'node:worker_threads';

const tsxApi = pathToFileURL(
  path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs'),
).href;

export interface ThreadWorker extends Worker {
  readonly thread: NodeWorker;
  /** Resolves with the exit code once the thread has stopped. */
  readonly exited: Promise<number>;
}

/** Starts `moduleUrl` in a worker thread behind a Web Worker interface. */
export function threadWorker(moduleUrl: URL): ThreadWorker {
  const boot = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(moduleUrl.href)});`;
  const thread = new NodeWorker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`));
  const exited = new Promise<number>((resolve) => thread.once('exit', resolve));
  const shim = {
    thread,
    exited,
    onmessage: null as ((ev: MessageEvent) => void) | null,
    onerror: null as ((ev: ErrorEvent) => void) | null,
    postMessage(message: unknown, transfer?: Transferable[]) {
      thread.postMessage(message, transfer as any);
    },
    terminate() {
      void thread.terminate();
    },
  };
  thread.on('message', (data) => shim.onmessage?.({ data } as MessageEvent));
  thread.on('error', (e) => shim.onerror?.({ message: e.message } as ErrorEvent));
  return shim as unknown as ThreadWorker;
}
