/**
 * @file Folder mounting. Every model source is mounted under a virtual folder `/__sayo__/<mount>/` that
 * transformers.js loads as a local model; `virtualFetch` (transformers.js's `env.fetch`) maps it to the real place:
 * the app's /models/<path>/, a URL, or the files the user picked. Downloads are bounded (fetch-limited.ts) and
 * stopped through the mount's signal.
 */
import { fetchLimited } from '../fetch-limited.ts';
import { DOWNLOAD_LIMITS } from '../../core/limits.ts';

export const VIRTUAL_ROOT = '/__sayo__/';

/** What became of one file the cache was asked to keep. */
export interface Kept {
  file: string;
  where: 'cache' | 'opfs' | 'none';
  why?: string;
}

/** Files served from a base URL (kept in the model cache under `rev`, unless null), or picked by the user. */
export type Mount =
  | {
      kind: 'url';
      base: string;
      rev: string | null;
      signal?: AbortSignal;
      timeoutMs?: number;
      opfsAboveBytes?: number;
      kept: Kept[];
    }
  | { kind: 'files'; files: Map<string, Blob> };

export type UrlMount = Extract<Mount, { kind: 'url' }>;

/** The app's base URL (where /models/ and /ort/ are served). */
export function appBase(): string {
  return new URL(import.meta.env?.BASE_URL ?? '/', self.location.origin).href;
}

/** The mounts of this worker by id; a mount lives from its source's resolve to its release. */
class MountTable {
  private readonly mounts = new Map<string, Mount>();
  private counter = 0;

  /** Mounts `m`; returns its id (the virtual folder's name). */
  add(m: Mount): string {
    const id = `src${++this.counter}`;
    this.mounts.set(id, m);
    return id;
  }

  remove(id: string): void {
    this.mounts.delete(id);
  }

  /** Splits a virtual URL/path into its mount and the file path inside it. */
  parse(url: string): { mount: Mount; file: string } | null {
    const pathname = new URL(url, self.location.origin).pathname;
    if (!pathname.startsWith(VIRTUAL_ROOT)) return null;
    const rest = decodeURIComponent(pathname.slice(VIRTUAL_ROOT.length));
    const slash = rest.indexOf('/');
    const mount = this.mounts.get(rest.slice(0, slash));
    return mount ? { mount, file: rest.slice(slash + 1) } : null;
  }
}

export const mounts = new MountTable();

/** The virtual path of `file` in mount `id`. */
export const virtualPath = (id: string, file: string) => `${VIRTUAL_ROOT}${id}/${file}`;

/** The download limits of a URL mount: its own timeout for connect and idle, `maxBytes` for the file's kind. */
export function mountLimits(m: UrlMount, maxBytes: number) {
  const t = m.timeoutMs ?? DOWNLOAD_LIMITS.connectTimeoutMs;
  return { ...DOWNLOAD_LIMITS, connectTimeoutMs: t, idleTimeoutMs: t, maxBytes };
}

function notFound(file: string): Response {
  return new Response(`404: ${file} not found`, { status: 404, headers: { 'Content-Type': 'text/plain' } });
}

/** Maps virtual paths to real fetches / picked blobs; everything else goes to the real fetch. */
export async function virtualFetch(input: string | URL, init?: RequestInit): Promise<Response> {
  const hit = mounts.parse(String(input));
  if (!hit) return fetch(input, init);
  const { mount, file } = hit;
  if (mount.kind === 'files') {
    const blob = mount.files.get(file);
    return blob
      ? new Response(blob, { status: 200, headers: { 'Content-Length': String(blob.size) } })
      : notFound(file);
  }
  // Every wait bounded (connect, idle, size; fetch-limited.ts); Stop aborts through the mount's signal.
  const limits = mountLimits(
    mount,
    file.endsWith('.json') ? DOWNLOAD_LIMITS.maxJsonBytes : DOWNLOAD_LIMITS.maxFileBytes,
  );
  const { response: res } = await fetchLimited(
    new URL(file, mount.base).href,
    { headers: init?.headers, signal: mount.signal },
    limits,
  );
  // A server answering a missing model file with an HTML page (SPA fallback) must not pass as the file.
  if (res.ok && /text\/html/i.test(res.headers.get('content-type') ?? '') && !file.endsWith('.html'))
    return notFound(file);
  return res;
}

/** Strips one shared leading folder ("sayo-mini/config.json" → "config.json") when config.json is not at the top. */
export function normaliseFiles(files: Record<string, Blob>): Map<string, Blob> {
  const entries = Object.entries(files).map(([k, v]) => [k.replace(/^\.?\/+/, ''), v] as const);
  if (!entries.some(([k]) => k === 'config.json')) {
    const first = entries.find(([k]) => k.endsWith('/config.json'));
    if (first) {
      const prefix = first[0].slice(0, -'config.json'.length);
      return new Map(entries.filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    }
  }
  return new Map(entries);
}
