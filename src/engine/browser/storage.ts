/**
 * @file Model storage. A custom transformers.js cache keeps downloaded files in Cache Storage under their real URL plus
 * a revision, so a second visit loads from cache and a re-exported model is never served stale. A file Cache Storage
 * refuses (Chromium answers QuotaExceededError or UnknownError for files of some hundred MB) is kept in the
 * origin-private file system under the same key instead (the page asks navigator.storage.persist() before loading a
 * model by URL, see client.ts); when that fails too, the model's info says why (`storageNote`). Picked files are not
 * cached. ORT's runtime files under the app's /ort/ are kept too, under ONNX Runtime's version.
 */
import { env } from '@huggingface/transformers';
import { appBase, mounts, type Kept, type Mount } from './mounts.ts';

const CACHE_NAME = 'sayo-lens-models';
/** The origin-private file system folder of the files Cache Storage refused (or that exceed `opfsAboveBytes`). */
export const OPFS_DIR = 'sayo-lens-models';

/**
 * Cache Storage keyed by real URL + revision; virtual keys of uncacheable mounts are never stored. ORT's runtime
 * files under the app's /ort/ (which transformers.js reads through this cache too) are kept under ONNX Runtime's
 * version, so a warm visit does not download the runtime again and an upgrade is never served stale.
 */
function realKey(key: string): string | null {
  const ortBase = new URL('ort/', appBase()).href;
  if (key.startsWith(ortBase)) {
    const u = new URL(key);
    const version = (env.backends.onnx as { versions?: { web?: string } }).versions?.web;
    if (!version) return null;
    u.searchParams.set('sayo-ort', version);
    return u.href;
  }
  const hit = mounts.parse(key);
  if (!hit || hit.mount.kind !== 'url' || hit.mount.rev === null) return null;
  const u = new URL(hit.file, hit.mount.base);
  u.searchParams.set('sayo-rev', hit.mount.rev);
  return u.href;
}

/** The error's name and message, short (DOMExceptions carry the useful part in `name`). */
function errorText(e: unknown): string {
  if (e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException)) {
    const { name, message } = e as Error;
    return message && !message.startsWith(name) ? `${name}: ${message}` : name || message;
  }
  return String(e);
}

/** The file name of a cache key in the origin-private file system: SHA-256 of the key (URL + revision), hex. */
async function opfsName(key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function opfsFolder(create: boolean): Promise<FileSystemDirectoryHandle> {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory)
    throw new Error('this browser has no origin-private file system');
  return (await navigator.storage.getDirectory()).getDirectoryHandle(OPFS_DIR, { create });
}

async function opfsRead(key: string): Promise<Response | undefined> {
  try {
    const file = await (await (await opfsFolder(false)).getFileHandle(await opfsName(key))).getFile();
    // A write that did not finish leaves the file empty (createWritable applies its data only on close).
    return file.size > 0
      ? new Response(file, { status: 200, headers: { 'Content-Length': String(file.size) } })
      : undefined;
  } catch {
    return undefined;
  }
}

/** Workers of browsers without createWritable: the synchronous access handle, a chunk at a time. */
async function writeSync(handle: FileSystemFileHandle, body: Blob): Promise<void> {
  const sync = await (handle as any).createSyncAccessHandle();
  try {
    sync.truncate(0);
    const CHUNK = 16 << 20;
    for (let at = 0; at < body.size; at += CHUNK)
      sync.write(new Uint8Array(await body.slice(at, at + CHUNK).arrayBuffer()), { at });
    sync.flush();
  } finally {
    sync.close();
  }
}

async function opfsWrite(key: string, body: Blob): Promise<void> {
  const dir = await opfsFolder(true);
  const name = await opfsName(key);
  const handle = await dir.getFileHandle(name, { create: true });
  try {
    if ('createWritable' in handle) {
      const w = await handle.createWritable();
      await w.write(body);
      await w.close();
    } else {
      await writeSync(handle, body);
    }
  } catch (e) {
    await dir.removeEntry(name).catch(() => undefined);
    throw e;
  }
}

/**
 * transformers.js's cache: Cache Storage, else the origin-private file system. `put` never throws (transformers.js
 * would only log it); what happened to each file of a URL mount is recorded on the mount for its `storageNote`.
 */
export const modelCache = {
  async match(key: string): Promise<Response | undefined> {
    const k = realKey(key);
    if (!k) return undefined;
    const hit = typeof caches === 'undefined' ? undefined : await (await caches.open(CACHE_NAME)).match(k);
    return hit ?? opfsRead(k);
  },
  async put(key: string, response: Response): Promise<void> {
    const k = realKey(key);
    if (!k || !response.ok) return;
    const hit = mounts.parse(key);
    const m = hit?.mount.kind === 'url' ? hit.mount : undefined;
    const record = (where: Kept['where'], why?: string) => m?.kept.push({ file: hit!.file, where, why });
    const body = await response.blob();
    let refused: string;
    if (m?.opfsAboveBytes !== undefined && body.size > m.opfsAboveBytes) {
      refused = `skipped (larger than ${m.opfsAboveBytes} bytes)`;
    } else if (typeof caches === 'undefined') {
      refused = 'unavailable';
    } else {
      try {
        await (await caches.open(CACHE_NAME)).put(k, new Response(body, { headers: response.headers }));
        record('cache');
        return;
      } catch (e) {
        refused = errorText(e);
      }
    }
    try {
      await opfsWrite(k, body);
      record('opfs');
    } catch (e) {
      record('none', `Cache Storage: ${refused}; origin-private file system: ${errorText(e)}`);
    }
  },
};

/** Why files of a mount will not be there next visit (or may be evicted); undefined when all were kept. */
export async function storageNote(m: Mount): Promise<string | undefined> {
  if (m.kind !== 'url') return undefined;
  const lost = m.kept.filter((k) => k.where === 'none');
  if (lost.length) {
    return `${lost.map((k) => k.file).join(', ')} could not be kept in this browser, so ${lost.length === 1 ? 'it is' : 'they are'} downloaded again on the next visit (${lost[0].why}).`;
  }
  if (m.kept.some((k) => k.where === 'opfs')) {
    const persisted = await navigator.storage?.persisted?.().catch(() => false);
    if (!persisted) {
      return 'Large model files are kept in the origin-private file system, but the browser did not grant persistent storage: it may remove them when disk space runs low.';
    }
  }
  return undefined;
}
