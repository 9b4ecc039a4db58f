/**
 * @file Which mount each model source becomes (the registry's embedded pair under the app's /models/, a registry or
 * user URL, a picked folder), and the {@link ResolvedSource} over a mount: small files read through the model cache,
 * file sizes without their bytes, release.
 */
import { toEngineError } from '../errors.ts';
import { checkHttpUrl, fetchLimited, FetchLimitError, readBodyText } from '../fetch-limited.ts';
import type { ResolvedSource } from '../platform.ts';
import { registryEntry } from '../registry.ts';
import { EngineError, type ModelSource } from '../types.ts';
import { appBase, mountLimits, mounts, normaliseFiles, virtualFetch, virtualPath, type Mount } from './mounts.ts';
import { modelCache, storageNote } from './storage.ts';

declare const __SAYO_MODELS_REV__: string | undefined;

/** Reads a small text file of mount `id` through the model cache (and fills it), so a second visit works offline. */
async function readText(id: string, name: string, file: string): Promise<string> {
  const key = virtualPath(id, file);
  const cached = await modelCache.match(key).catch(() => undefined);
  if (cached) return cached.text();
  let failure = 'network error';
  const res = await virtualFetch(key).catch((e: Error) => {
    failure = e.message;
    if (e instanceof FetchLimitError) throw toEngineError(e, 'download_failed', name);
    return null;
  });
  if (!res?.ok)
    throw new EngineError(
      'missing_file',
      `${name}: ${file} could not be loaded (${res ? `HTTP ${res.status}` : failure}).`,
    );
  const text = await readBodyText(res).catch((e: Error) => {
    throw toEngineError(e, 'download_failed', name);
  });
  await modelCache
    .put(key, new Response(text, { headers: { 'Content-Type': 'application/json' } }))
    .catch(() => undefined);
  return text;
}

/** A file's size without its bytes: the picked file, the model cache (a second visit, offline too), else a HEAD request. */
async function fileSize(id: string, m: Mount, file: string): Promise<number | undefined> {
  if (m.kind === 'files') return m.files.get(file)?.size;
  const cached = await modelCache.match(virtualPath(id, file)).catch(() => undefined);
  void cached?.body?.cancel().catch(() => undefined);
  const known = Number(cached?.headers.get('content-length') ?? NaN);
  if (known > 0) return known;
  const head = await fetchLimited(
    new URL(file, m.base).href,
    { method: 'HEAD', signal: m.signal },
    mountLimits(m, Infinity),
  ).catch(() => null);
  const size = Number(head?.response.ok ? (head.response.headers.get('content-length') ?? NaN) : NaN);
  return size > 0 ? size : undefined;
}

/** Mounts `m` and returns it as a source transformers.js can load. */
function mounted(m: Mount, name: string, dtype?: ResolvedSource['dtype']): ResolvedSource {
  const id = mounts.add(m);
  return {
    modelId: id,
    name,
    dtype,
    readText: (file) => readText(id, name, file),
    fileSize: (file) => fileSize(id, m, file),
    release: () => mounts.remove(id),
    storageNote: () => storageNote(m),
  };
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}

/** How downloads of a URL source are bounded and kept (LoadOptions, passed through the platform). */
export interface DownloadOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  opfsAboveBytes?: number;
}

/** Mounts a model source of the browser, or says why it cannot be one. */
export function resolveBrowserSource(source: ModelSource, opts: DownloadOptions): ResolvedSource {
  const byUrl = (base: string, rev: string | null, name: string, dtype?: ResolvedSource['dtype']) =>
    mounted({ kind: 'url', base, rev, ...opts, kept: [] }, name, dtype);
  switch (source?.kind) {
    case 'registry': {
      const e = registryEntry(source.id);
      if (!e) throw new EngineError('bad_input', `No registry entry "${source.id}" in models/registry.json.`);
      const dtype = e.precisions[0]?.dtype;
      if (e.kind === 'embedded' && e.path) {
        const rev = typeof __SAYO_MODELS_REV__ === 'string' ? __SAYO_MODELS_REV__ : null;
        return byUrl(new URL(`models/${e.path}/`, appBase()).href, rev, e.name, dtype);
      }
      if (e.kind === 'url' && e.url) return byUrl(withSlash(e.url), e.revision ?? 'main', e.name, dtype);
      throw new EngineError('bad_input', `${e.name} has no ONNX export yet. ${e.description}`);
    }
    case 'url': {
      let base: string;
      try {
        base = withSlash(checkHttpUrl(new URL(source.url, appBase()).href).href);
      } catch (e) {
        const why =
          e instanceof FetchLimitError ? e.message : `${source.url}: not a URL (accepted: http:// or https:// URLs)`;
        throw new EngineError('bad_input', why);
      }
      return byUrl(base, 'url', base.replace(/\/$/, '').split('/').slice(-1)[0] || base);
    }
    case 'files': {
      const files = normaliseFiles(source.files ?? {});
      if (!files.has('config.json'))
        throw new EngineError('missing_file', 'The picked folder has no config.json (pick the model folder itself).');
      return mounted({ kind: 'files', files }, 'picked folder');
    }
    default:
      throw new EngineError(
        'bad_input',
        'This source is not available in the browser (pick the folder or give a URL).',
      );
  }
}
