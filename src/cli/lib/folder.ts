/**
 * @file Read files of a model folder given as a local path or an http(s) URL (Hugging Face layout), with one
 * interface, so `sayo inspect` checks both the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DOWNLOAD_LIMITS } from '../../core/limits.ts';
import { fetchLimited, FetchLimitError } from '../../engine/fetch-limited.ts';
import { LocalFileError, readRegularFile } from '../../engine/local-file.ts';
import { CliError, messageOf } from './errors.ts';

/** A model folder: files are addressed by their path inside it, e.g. "onnx/decoder_model_merged.onnx". */
export interface ModelFolder {
  /** How the folder is named in messages. */
  label: string;
  exists(file: string): Promise<boolean>;
  /** The file's bytes; throws CliError when it cannot be read. */
  read(file: string): Promise<Uint8Array>;
  /** The file's path on disk, for local folders (onnxruntime then finds external data next to it). */
  localPath?(file: string): string;
  /** The file's size without reading it (disk, or a HEAD request's Content-Length); undefined when unknown. */
  size(file: string): Promise<number | undefined>;
}

/** A local directory. */
export function localFolder(dir: string): ModelFolder {
  if (!fs.existsSync(dir)) throw new CliError(`model folder ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new CliError(`${dir} is not a folder`);
  return {
    label: dir,
    localPath: (file) => path.join(dir, file),
    exists: async (file) => fs.existsSync(path.join(dir, file)),
    size: async (file) => fs.statSync(path.join(dir, file), { throwIfNoEntry: false })?.size,
    read: async (file) => {
      try {
        return readRegularFile(
          path.join(dir, file),
          /\.(json|jinja)$/.test(file) ? DOWNLOAD_LIMITS.maxJsonBytes : DOWNLOAD_LIMITS.maxGraphBytes,
        );
      } catch (err) {
        throw new CliError(
          err instanceof LocalFileError
            ? `cannot read ${err.message}`
            : `cannot read ${path.join(dir, file)}: ${messageOf(err)}`,
        );
      }
    },
  };
}

/** Bounds and reporting for a folder on the web. */
export interface UrlFolderOptions {
  /** Limits (default DOWNLOAD_LIMITS); the size cap per file is maxJsonBytes for JSON, maxGraphBytes otherwise. */
  limits?: Partial<Record<keyof typeof DOWNLOAD_LIMITS | 'totalTimeoutMs', number>>;
  /** Called for every redirect followed. */
  onRedirect?: (from: string, to: string) => void;
}

/** A folder on the web (e.g. https://huggingface.co/<repo>/resolve/main/), every request bounded (fetch-limited.ts). */
export function urlFolder(url: string, options: UrlFolderOptions = {}): ModelFolder {
  const base = url.endsWith('/') ? url : `${url}/`;
  const l = { ...DOWNLOAD_LIMITS, ...options.limits };
  const get = async (file: string, method: 'GET' | 'HEAD') => {
    const maxBytes = /\.(json|jinja)$/.test(file) ? l.maxJsonBytes : l.maxGraphBytes;
    try {
      const { response, redirects } = await fetchLimited(base + file, { method }, { ...l, maxBytes });
      for (const [from, to] of redirects) options.onRedirect?.(from, to);
      return response;
    } catch (err) {
      throw new CliError(
        err instanceof FetchLimitError
          ? `cannot download ${err.message}`
          : `cannot reach ${base + file}: ${messageOf(err)}`,
      );
    }
  };
  return {
    label: base,
    exists: async (file) => (await get(file, 'HEAD')).ok,
    size: async (file) => {
      // Any declared size is read (the per-file cap applies to downloads, and a HEAD downloads nothing).
      const head = await fetchLimited(base + file, { method: 'HEAD' }, { ...l, maxBytes: Infinity }).catch(() => null);
      for (const [from, to] of head?.redirects ?? []) options.onRedirect?.(from, to);
      const n = Number(head?.response.ok ? (head.response.headers.get('content-length') ?? NaN) : NaN);
      return n >= 0 ? n : undefined;
    },
    read: async (file) => {
      const res = await get(file, 'GET');
      if (!res.ok) {
        void res.body?.cancel().catch(() => undefined);
        throw new CliError(`cannot download ${base + file}: HTTP ${res.status}`);
      }
      try {
        return new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        throw new CliError(
          err instanceof FetchLimitError
            ? `cannot download ${err.message}`
            : `cannot download ${base + file}: ${messageOf(err)}`,
        );
      }
    },
  };
}

/** A folder from a command-line argument: http(s) URL or local path (any other URL scheme is refused). */
export function openFolder(spec: string, options: UrlFolderOptions = {}): ModelFolder {
  if (/^https?:\/\//i.test(spec)) return urlFolder(spec, options);
  if (/^[a-z][a-z0-9+.-]+:/i.test(spec) && !fs.existsSync(spec)) {
    throw new CliError(`${spec}: only http:// and https:// URLs or local folders are accepted`);
  }
  return localFolder(spec);
}

/** Parse a JSON file of the folder; throws CliError naming the file on invalid JSON. */
export async function readJson(folder: ModelFolder, file: string): Promise<Record<string, unknown>> {
  // TextDecoder drops a leading UTF-8 byte order mark.
  const text = new TextDecoder().decode(await folder.read(file));
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${messageOf(err)}`);
  }
}
