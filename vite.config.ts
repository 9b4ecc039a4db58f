/**
 * @file Vite config: the app (index.html) — plus, in the test build only (`vite build --mode e2e`: Playwright and the
 * benchmarks), the engine e2e harness page (e2e-harness.html, window.sayoHarness) — ES-module workers,
 * and two static trees the engine needs, served the same way in dev, preview and the build output:
 *   /models/…  the repo's models/ folder (registry.json and the embedded checkpoints, HF layout)
 *   /ort/…     onnxruntime-web's wasm + glue, from the copy transformers.js itself resolves (one ORT version, no CDN)
 * A missing file under these prefixes is a real 404: Vite's SPA fallback would otherwise answer with index.html,
 * which transformers.js parses as JSON (or caches) as if it were the file asked for.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { securityPolicy } from './build/security-headers.ts';
import { transformersChains } from './build/transformers-chains.ts';

const ROOT = import.meta.dirname;
const MODELS_DIR = path.join(ROOT, 'models');

/** ORT dist folder of the onnxruntime-web that @huggingface/transformers resolves (dedupes to its pinned version). */
function ortDistDir(): string {
  const req = createRequire(createRequire(path.join(ROOT, 'package.json')).resolve('@huggingface/transformers'));
  return path.dirname(req.resolve('onnxruntime-web/webgpu'));
}
/** asyncify: the WebGPU-capable build transformers.js 4.x uses; plain: its fallback for browsers without JSPI/asyncify WebGPU. */
const ORT_FILES = [
  'ort-wasm-simd-threaded.asyncify.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
];

const MIME: Record<string, string> = {
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
  '.onnx_data': 'application/octet-stream',
  '.wasm': 'application/wasm',
  '.mjs': 'text/javascript',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

/** Every file under `dir` (relative paths, sorted). */
function listFiles(dir: string, rel = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

/** Content hash of the model files: part of the engine's Cache Storage keys, so a re-export is never served stale. */
function modelsRevision(): string {
  const h = createHash('sha256');
  for (const f of listFiles(MODELS_DIR)) {
    h.update(f);
    h.update(fs.readFileSync(path.join(MODELS_DIR, f)));
  }
  return h.digest('hex').slice(0, 16);
}

/** Connect middleware serving `resolve(relPath)` files; anything else under the prefix is a 404 (never index.html). */
function staticTree(resolve: (rel: string) => string | null) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    // Module requests (`/models/registry.json?import`) belong to Vite's transform pipeline, not to this file server.
    if ((req.method !== 'GET' && req.method !== 'HEAD') || /[?&](import|url|raw|inline)\b/.test(req.url ?? ''))
      return next();
    let rel: string;
    try {
      rel = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/+/, '');
    } catch {
      rel = '';
    }
    const file = rel && !rel.split('/').includes('..') ? resolve(rel) : null;
    const stat = file && fs.existsSync(file) ? fs.statSync(file) : null;
    if (!file || !stat?.isFile()) {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`404: ${req.url} not found`);
      return;
    }
    const etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (req.headers['if-none-match'] === etag) {
      res.statusCode = 304;
      return res.end();
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', MIME[path.extname(file)] ?? 'application/octet-stream');
    res.setHeader('Content-Length', String(stat.size));
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).pipe(res);
  };
}

/** Serves /models and /ort in dev and preview, and copies them into the build output. */
function engineAssets(): Plugin {
  const ortDir = ortDistDir();
  const ortPath = (rel: string) => (ORT_FILES.includes(rel) ? path.join(ortDir, rel) : null);
  let outDir = path.join(ROOT, 'dist');
  return {
    name: 'sayo-engine-assets',
    configResolved(cfg) {
      outDir = path.resolve(cfg.root, cfg.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use(
        '/models',
        staticTree((rel) => path.join(MODELS_DIR, rel)),
      );
      server.middlewares.use('/ort', staticTree(ortPath));
    },
    configurePreviewServer(server) {
      // Preview serves what the build wrote, so the e2e tests exercise the real build output.
      server.middlewares.use(
        '/models',
        staticTree((rel) => path.join(outDir, 'models', rel)),
      );
      server.middlewares.use(
        '/ort',
        staticTree((rel) => (ORT_FILES.includes(rel) ? path.join(outDir, 'ort', rel) : null)),
      );
    },
    generateBundle(_options, bundle) {
      // ORT's bundle references its wasm via import.meta.url, so Vite emits a 27 MB copy; the engine always sets
      // env.backends.onnx.wasm.wasmPaths to /ort/ (copied below), so that copy would never be fetched.
      for (const name of Object.keys(bundle)) if (/ort-wasm-simd-threaded.*\.wasm$/.test(name)) delete bundle[name];
    },
    closeBundle() {
      for (const f of listFiles(MODELS_DIR)) {
        fs.mkdirSync(path.dirname(path.join(outDir, 'models', f)), { recursive: true });
        fs.copyFileSync(path.join(MODELS_DIR, f), path.join(outDir, 'models', f));
      }
      fs.mkdirSync(path.join(outDir, 'ort'), { recursive: true });
      for (const f of ORT_FILES) fs.copyFileSync(path.join(ortDir, f), path.join(outDir, 'ort', f));
    },
  };
}

/** The mode whose build also carries the e2e harness page; a production build (`vite build`) ships the app alone. */
export const HARNESS_MODE = 'e2e';

export default defineConfig(({ mode }) => ({
  plugins: [react(), securityPolicy(), transformersChains(), engineAssets()],
  // The dev server pre-bundles transformers.js with Rolldown: the same rewrite applies there. It is named up front:
  // only the engine worker imports it, and the dependency scan starts from the HTML pages, so on a first visit it was
  // found late and the page reloaded once ("optimized dependencies changed").
  optimizeDeps: { include: ['@huggingface/transformers'], rolldownOptions: { plugins: [transformersChains()] } },
  define: {
    __SAYO_MODELS_REV__: JSON.stringify(modelsRevision()),
  },
  // The engine worker is bundled on its own: transformers.js lives there, so the rewrite must run there too.
  worker: { format: 'es', plugins: () => [transformersChains()] },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      input: {
        main: path.join(ROOT, 'index.html'),
        ...(mode === HARNESS_MODE ? { harness: path.join(ROOT, 'e2e-harness.html') } : {}),
      },
    },
  },
}));
