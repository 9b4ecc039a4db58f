/**
 * @file Read files of a model folder given as a local path or an http(s) URL (Hugging Face layout), with one
 * interface, so `sayo inspect` checks both the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
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
}

/** A local directory. */
export function localFolder(dir: string): ModelFolder {
  if (!fs.existsSync(dir)) throw new CliError(`model folder ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new CliError(`${dir} is not a folder`);
  return {
    label: dir,
    localPath: (file) => path.join(dir, file),
    exists: async (file) => fs.existsSync(path.join(dir, file)),
    read: async (file) => {
      try {
        return fs.readFileSync(path.join(dir, file));
      } catch (err) {
        throw new CliError(`cannot read ${path.join(dir, file)}: ${messageOf(err)}`);
      }
    },
  };
}

/** A folder on the web (e.g. https://huggingface.co/<repo>/resolve/main/). */
export function urlFolder(url: string): ModelFolder {
  const base = url.endsWith('/') ? url : `${url}/`;
  const get = async (file: string, method: 'GET' | 'HEAD') => {
    try {
      return await fetch(base + file, { method, redirect: 'follow' });
    } catch (err) {
      throw new CliError(`cannot reach ${base + file}: ${messageOf((err as { cause?: unknown }).cause ?? err)}`);
    }
  };
  return {
    label: base,
    exists: async (file) => (await get(file, 'HEAD')).ok,
    read: async (file) => {
      const res = await get(file, 'GET');
      if (!res.ok) throw new CliError(`cannot download ${base + file}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/** A folder from a command-line argument: http(s) URL or local path. */
export function openFolder(spec: string): ModelFolder {
  return /^https?:\/\//.test(spec) ? urlFolder(spec) : localFolder(spec);
}

/** Parse a JSON file of the folder; throws CliError naming the file on invalid JSON. */
export async function readJson(folder: ModelFolder, file: string): Promise<Record<string, unknown>> {
  const text = new TextDecoder().decode(await folder.read(file));
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${messageOf(err)}`);
  }
}
