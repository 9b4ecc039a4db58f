/**
 * @file The engine in Node (CLI, vitest, benchmark): transformers.js on onnxruntime-node (native CPU), model folders
 * read from disk — a registry id of an embedded model, or any HF-layout folder path. Images are decoded with sharp.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { env } from '@huggingface/transformers';
import { decodeImage } from './image.ts';
import { createEngine, type InThreadEngine } from './engine.ts';
import type { EnginePlatform, ResolvedSource } from './platform.ts';
import { registryEntry } from './registry.ts';
import { EngineError, type ModelSource } from './types.ts';

/** The repo's models/ folder. */
export const DEFAULT_MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

/** Options of {@link createNodeEngine}. */
export interface NodeEngineOptions {
  /** Folder holding the embedded models (default: the repo's models/). */
  modelsDir?: string;
  /**
   * ONNX Runtime intra-op threads (default 1). Measured on SAYO-mini on the 2-core machine: 1 thread decodes at
   * ~1700 tok/s, steady; ORT's default (one per core, spinning) at 600–1400 tok/s and slows everything else running.
   * At 24 M and 113 M parameters (`npm run bench -- --scale --threads-ab 25m,100m --threads-images 100,1300`), with
   * the other core busy with other jobs, 2 threads gave 0.51–0.94× the prefill speed and 0.59–1.07× the decode speed
   * of 1: no gain measured here, so 1 stays the default. Raise it on a machine whose cores are free.
   */
  threads?: number;
}

function configureEnv(): void {
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.useFSCache = false;
  env.useBrowserCache = false;
}

function resolvePath(dir: string, name: string): ResolvedSource {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new EngineError('missing_file', `Model folder not found: ${abs}`);
  }
  const readText = async (file: string) => {
    try {
      return await fs.promises.readFile(path.join(abs, file), 'utf8');
    } catch {
      throw new EngineError('missing_file', `${name}: ${file} is missing in ${abs}`);
    }
  };
  return { modelId: abs, name, readText, release: () => undefined };
}

/** The Node platform: CPU backend, files from disk. */
export function nodePlatform(opts: NodeEngineOptions = {}): EnginePlatform {
  const modelsDir = opts.modelsDir ?? DEFAULT_MODELS_DIR;
  configureEnv();
  return {
    kind: 'node',
    sessionOptions: { intraOpNumThreads: opts.threads ?? 1, interOpNumThreads: 1 },
    async resolveSource(source: ModelSource) {
      configureEnv();
      switch (source?.kind) {
        case 'path':
          return resolvePath(source.path, path.basename(path.resolve(source.path)));
        case 'registry': {
          const entry = registryEntry(source.id);
          if (!entry) throw new EngineError('bad_input', `No registry entry "${source.id}" in models/registry.json.`);
          if (entry.kind !== 'embedded' || !entry.path) {
            throw new EngineError(
              'bad_input',
              `${entry.name} is not bundled; in Node download its folder and load it by path (the browser app loads it by URL).`,
            );
          }
          const r = resolvePath(path.join(modelsDir, entry.path), entry.name);
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
    decodeImage,
    yieldToEvents: () => new Promise((r) => setImmediate(r)),
  };
}

/** The engine for the CLI, the tests and the benchmark (onnxruntime-node). */
export function createNodeEngine(opts: NodeEngineOptions = {}): InThreadEngine {
  return createEngine(nodePlatform(opts));
}
