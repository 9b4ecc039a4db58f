/**
 * @file Web Worker of the scale benchmark's transformers.js anchor in the browser (lab/support/tjs-generate.ts, the runner
 * Node uses too), started by the harness page (lab/support/harness-page.ts `tjs`) and bundled with it by Vite. A
 * worker of its own, as the engine runs in one: the model folder is mounted by URL through the engine's browser
 * platform (src/engine/browser.ts: transformers.js env, the model cache, onnxruntime-web's WASM-only build from the
 * app's /ort/), on WASM with the thread count the engine's worker ran.
 */
import { browserPlatform } from '../../src/engine/browser.ts';
import { transformersJs, type TjsFigures, type TransformersJsRunner } from './tjs-generate.ts';

/** What the page asks: load one model folder (once per worker), then any number of runs. */
export type TjsRequest =
  | { type: 'load'; url: string; dtype: string | Record<string, string>; threads: number }
  | { type: 'run'; image: Uint8Array; question: string; tokens: number; attentions: boolean; answer?: boolean };
/** A request as posted: with the id its answer carries. */
export type TjsMessage = TjsRequest & { id: number };

/** A loaded model's facts: the WASM threads ONNX Runtime runs, and why fewer than asked when so. */
export interface TjsLoaded {
  threads?: number;
  note?: string;
}

export type TjsResponse = { id: number; value: TjsLoaded | TjsFigures } | { id: number; error: string };

const platform = browserPlatform();
let runner: TransformersJsRunner | undefined;
const scope = self as unknown as { postMessage(m: TjsResponse): void; onmessage: unknown };

async function handle(req: TjsRequest): Promise<TjsLoaded | TjsFigures> {
  switch (req.type) {
    case 'load': {
      if (runner) throw new Error('this worker has a model already (its thread pool is sized by its first one)');
      const source = await platform.resolveSource({ kind: 'url', url: req.url });
      const { backend } = await platform.chooseBackend('wasm');
      const choice = await platform.threads(source, backend, {}, req.dtype, req.threads);
      runner = await transformersJs(source.modelId, { dtype: req.dtype, device: 'wasm' });
      return { threads: platform.threadsInUse?.() ?? choice?.threads, note: choice?.note };
    }
    case 'run': {
      if (!runner) throw new Error('no model loaded');
      const image = await platform.decodeImage({ kind: 'encoded', bytes: req.image });
      return runner.run(image, req.question, req.tokens, req.attentions, req.answer);
    }
  }
}

scope.onmessage = (ev: MessageEvent<TjsMessage>) =>
  void handle(ev.data).then(
    (value) => scope.postMessage({ id: ev.data.id, value }),
    (e) => scope.postMessage({ id: ev.data.id, error: (e as Error)?.message ?? String(e) }),
  );
