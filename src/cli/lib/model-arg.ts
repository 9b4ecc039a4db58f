/**
 * @file `--model` arguments and images for the engine: a folder path or a registry id (models/registry.json),
 * and image files read as encoded bytes. Engine failures become one-line CLI errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { registryEntries, registryEntry } from '../../engine/registry.ts';
import { EngineError, type ImageInput, type ModelSource } from '../../engine/types.ts';
import { CliError, messageOf } from './errors.ts';

/** A folder path when it exists, else a registry id; anything else is a usage error naming both options. */
export function modelSource(spec: string): ModelSource {
  if (fs.existsSync(spec) && fs.statSync(spec).isDirectory()) return { kind: 'path', path: path.resolve(spec) };
  if (registryEntry(spec)) return { kind: 'registry', id: spec };
  const ids = registryEntries().map((e) => e.id).join(', ');
  throw new CliError(`--model ${spec}: no such folder, and not a registry id (${ids})`);
}

const MIME: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif', '.bmp': 'image/bmp' };

/** Read an image file as encoded bytes; throws CliError when it is missing or empty. */
export function readImage(file: string): ImageInput {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read image ${file}: ${messageOf(err)}`);
  }
  if (bytes.length === 0) throw new CliError(`image ${file} is empty`);
  return { kind: 'encoded', bytes: new Uint8Array(bytes), mime: MIME[path.extname(file).toLowerCase()] };
}

/** Turn an engine error into a CliError (exit 2) prefixed with `context`; other errors pass through unchanged. */
export function engineFailure(context: string, err: unknown): unknown {
  return err instanceof EngineError ? new CliError(`${context}: ${err.message}`) : err;
}
