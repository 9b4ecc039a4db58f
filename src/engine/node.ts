/**
 * @file The engine in Node (CLI, vitest, benchmark): transformers.js on onnxruntime-node (native CPU), model folders
 * read from disk — a registry id of an embedded model, or any HF-layout folder path. Images are decoded with sharp.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { env } from '@huggingface/transformers';
import { DOWNLOAD_LIMITS } from '../core/limits.ts';
import { decodeImage } from './image.ts';
import { checkRegularFile, LocalFileError, readRegularFile } from './local-file.ts';
import { createEngine, type InThreadEngine } from './engine.ts';
import type { EnginePlatform, ResolvedSource } from './platform.ts';
import { registryEntry } from './registry.ts';
import { largestDecoderBytes, MULTI_THREAD_BYTES, threadsForDecoder } from './threads.ts';
import { EngineError, type ModelSource } from './types.ts';

export { MULTI_THREAD_BYTES };

/** The repo's models/ folder. */
export const DEFAULT_MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

/** Options of {@link createNodeEngine}. */
export interface NodeEngineOptions {
  /** Folder holding the embedded models (default: the repo's models/). */
  modelsDir?: string;
  /**
   * ONNX Runtime intra-op threads. Default: 1 for a decoder under {@link MULTI_THREAD_BYTES}, else 2 (at most the
   * cores there are): from that size a second thread speeds up prefill and decode, while on a small decoder one thread
   * is steadier and faster than ORT's default (one spinning thread per core), which also slows everything else
   * running. The thread A/B behind the rule (`npm run bench -- --scale --threads-ab …`) is in docs/bench/LOG.md.
   */
  threads?: number;
}

/** ONNX graphs and their external data: onnxruntime-node opens these itself, by path. */
const GRAPH_FILE = /\.onnx(_data(_\d+)?)?$/;

/** A file's bytes as a stream that opens the file at its first read (never, when the body is not read). */
function lazyBody(file: string): ReadableStream<Uint8Array> {
  let handle: fs.promises.FileHandle | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        handle ??= await fs.promises.open(file);
        const chunk = new Uint8Array(1 << 20);
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (bytesRead > 0) return controller.enqueue(chunk.subarray(0, bytesRead));
        await handle.close();
        controller.close();
      },
      async cancel() {
        await handle?.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * transformers.js's lookups of local files, answered before its own reader. That reader (`FileResponse`, 4.3.x) starts
 * a read stream of the whole file into a ReadableStream queue nothing reads, for every file it opens, even for the
 * graphs whose path it hands to onnxruntime-node and those it opens only for their size: each model file is copied
 * into the JS heap again while the session loads and the first answers run (held in 64 KB chunks by ReadableStream
 * queues, so memory grows with the answer instead of staying flat). transformers.js looks a file up under its path (for its size, or its bytes), then a graph once more under
 * its remote key, made its file: URL by `configureEnv`: the path gets a Response whose body opens the file only when
 * read, the file: URL of a graph gets the path itself (onnxruntime-node reads the file from disk). A missing file
 * falls through to transformers.js, which reports it.
 */
export const folderFiles = {
  async match(key: unknown): Promise<string | Response | undefined> {
    const byUrl = typeof key === 'string' && key.startsWith('file:');
    const file = byUrl ? fileURLToPath(key as string) : key;
    if (typeof file !== 'string' || !path.isAbsolute(file)) return undefined;
    const stat = await fs.promises.stat(file).catch(() => undefined);
    if (!stat?.isFile()) return undefined;
    if (byUrl && GRAPH_FILE.test(file)) return file;
    return new Response(lazyBody(file), { headers: { 'content-length': String(stat.size) } });
  },
  async put(): Promise<void> {
    // Local files are read where they are; nothing is stored.
  },
};

function configureEnv(): void {
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.useFSCache = false;
  env.useBrowserCache = false;
  env.useCustomCache = true;
  env.customCache = folderFiles as any;
  // A file's remote key (host + template + file) is its file: URL: remote loading is off in Node.
  env.remoteHost = 'file:///';
  env.remotePathTemplate = '{model}/';
}

/** Intra-op threads for a folder by the shared rule (threads.ts): its largest decoder against MULTI_THREAD_BYTES. */
export function defaultThreads(folder: string): number {
  let files: Array<[string, number]>;
  try {
    const onnx = path.join(folder, 'onnx');
    files = fs.readdirSync(onnx).map((f) => [f, fs.statSync(path.join(onnx, f)).size]);
  } catch {
    return 1;
  }
  return threadsForDecoder(largestDecoderBytes(files), os.availableParallelism());
}

/**
 * Every file transformers.js or onnxruntime may open in a model folder (top-level files and onnx/), checked before
 * anything is read: regular files only (a FIFO would block, /dev/zero never ends), JSON and text under
 * DOWNLOAD_LIMITS.maxJsonBytes, graphs and external data under maxFileBytes.
 * @throws EngineError('bad_input') naming the file
 */
export function checkFolderFiles(abs: string): void {
  const entries = (sub: string) => {
    try {
      return fs.readdirSync(path.join(abs, sub)).map((f) => path.join(sub, f));
    } catch {
      return [];
    }
  };
  for (const rel of [...entries(''), ...entries('onnx')]) {
    const full = path.join(abs, rel);
    if (rel === 'onnx' || (!GRAPH_FILE.test(rel) && !/\.(json|jinja|txt|model)$/.test(rel))) continue;
    try {
      checkRegularFile(full, GRAPH_FILE.test(rel) ? DOWNLOAD_LIMITS.maxFileBytes : DOWNLOAD_LIMITS.maxJsonBytes);
    } catch (e) {
      if (e instanceof LocalFileError)
        throw new EngineError('bad_input', `Model file ${rel}: ${e.message.slice(full.length + 2)}.`);
      throw e;
    }
  }
}

function resolvePath(dir: string, name: string, threads?: number): ResolvedSource {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new EngineError('missing_file', `Model folder not found: ${abs}`);
  }
  checkFolderFiles(abs);
  const readText = async (file: string) => {
    let bytes: Buffer;
    try {
      bytes = readRegularFile(path.join(abs, file), DOWNLOAD_LIMITS.maxJsonBytes);
    } catch (e) {
      if (e instanceof LocalFileError && fs.existsSync(path.join(abs, file)))
        throw new EngineError('bad_input', `${name}: ${e.message}.`);
      throw new EngineError('missing_file', `${name}: ${file} is missing in ${abs}`);
    }
    return bytes.toString('utf8');
  };
  const intraOpNumThreads = threads ?? defaultThreads(abs);
  const fileSize = async (file: string) => (await fs.promises.stat(path.join(abs, file)).catch(() => undefined))?.size;
  return {
    modelId: abs,
    name,
    readText,
    fileSize,
    release: () => undefined,
    sessionOptions: { intraOpNumThreads, interOpNumThreads: 1 },
  };
}

/** The Node platform: CPU backend, files from disk. */
export function nodePlatform(opts: NodeEngineOptions = {}): EnginePlatform {
  const modelsDir = opts.modelsDir ?? DEFAULT_MODELS_DIR;
  configureEnv();
  return {
    kind: 'node',
    async resolveSource(source: ModelSource) {
      configureEnv();
      switch (source?.kind) {
        case 'path':
          return resolvePath(source.path, path.basename(path.resolve(source.path)), opts.threads);
        case 'registry': {
          const entry = registryEntry(source.id);
          if (!entry) throw new EngineError('bad_input', `No registry entry "${source.id}" in models/registry.json.`);
          if (entry.kind !== 'embedded' || !entry.path) {
            throw new EngineError(
              'bad_input',
              `${entry.name} is not bundled; in Node download its folder and load it by path (the browser app loads it by URL).`,
            );
          }
          const r = resolvePath(path.join(modelsDir, entry.path), entry.name, opts.threads);
          return { ...r, dtype: entry.precisions[0]?.dtype };
        }
        case 'url':
          throw new EngineError('bad_input', 'Loading by URL runs in the browser app; in Node pass the folder path.');
        case 'files':
          throw new EngineError('bad_input', 'Picked files are a browser source; in Node pass the folder path.');
        default:
          throw new EngineError('bad_input', 'Unknown model source.');
      }
    },
    async chooseBackend(pref) {
      if (pref && pref !== 'auto' && pref !== 'cpu') {
        throw new EngineError('bad_input', `Backend "${pref}" is browser-only; Node runs on onnxruntime-node (cpu).`);
      }
      return { backend: 'cpu', reason: 'onnxruntime-node (native CPU)' };
    },
    async threads(source, _backend, _config, _dtype, requested) {
      const threads = requested ?? Number(source.sessionOptions?.intraOpNumThreads ?? 1);
      return { threads, sessionOptions: { ...source.sessionOptions, intraOpNumThreads: threads } };
    },
    decodeImage,
    yieldToEvents: () => new Promise((r) => setImmediate(r)),
  };
}

/** The engine for the CLI, the tests and the benchmark (onnxruntime-node). */
export function createNodeEngine(opts: NodeEngineOptions = {}): InThreadEngine {
  return createEngine(nodePlatform(opts));
}
