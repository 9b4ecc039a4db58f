/**
 * @file `--model` arguments and images for the engine: a folder path or a registry id (models/registry.json),
 * and image files read as encoded bytes. Engine failures become one-line CLI errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { registryEntries, registryEntry } from '../../engine/registry.ts';
import { INPUT_LIMITS } from '../../core/limits.ts';
import { LocalFileError, readRegularFile } from '../../engine/local-file.ts';
import { EngineError, type ImageInput, type ModelSource } from '../../engine/types.ts';
import { readImageHeader } from '../../session/image-header.ts';
import { CliError, messageOf } from './errors.ts';

/** A folder path when it exists, else a registry id; anything else is a usage error naming both options. */
export function modelSource(spec: string): ModelSource {
  if (fs.existsSync(spec) && fs.statSync(spec).isDirectory()) return { kind: 'path', path: path.resolve(spec) };
  if (registryEntry(spec)) return { kind: 'registry', id: spec };
  const ids = registryEntries()
    .map((e) => e.id)
    .join(', ');
  throw new CliError(`--model ${spec}: no such folder, and not a registry id (${ids})`);
}

const MIME: Record<string, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  bmp: 'image/bmp',
};

/**
 * Read an image file as encoded bytes, bounded like the app's: a regular file under INPUT_LIMITS.maxImageBytes, a
 * raster format whose header the app reads (PNG, JPEG, WebP, GIF, BMP: never SVG, whose decoder runs filters and
 * reads file: references), at most INPUT_LIMITS.maxImagePixels pixels by its header, before anything is decoded.
 * @throws CliError naming the file and what is accepted
 */
export function readImage(file: string): ImageInput {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, INPUT_LIMITS.maxImageBytes);
  } catch (err) {
    throw new CliError(
      err instanceof LocalFileError && err.code === undefined
        ? `image ${err.message}`
        : `cannot read image ${file}: ${err instanceof LocalFileError ? err.code : messageOf(err)}`,
    );
  }
  if (bytes.length === 0) throw new CliError(`image ${file} is empty`);
  const header = readImageHeader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  if (!header)
    throw new CliError(
      `image ${file}: not a PNG, JPEG, WebP, GIF or BMP image (accepted: those raster formats; SVG is not)`,
    );
  const pixels = header.width * header.height;
  if (!(header.width > 0 && header.height > 0))
    throw new CliError(`image ${file}: its header declares ${header.width}×${header.height} pixels`);
  if (pixels > INPUT_LIMITS.maxImagePixels) {
    throw new CliError(
      `image ${file}: ${header.width}×${header.height} is ${(pixels / 1e6).toFixed(1)} M pixels, more than ${(INPUT_LIMITS.maxImagePixels / 1e6).toFixed(1)} M (size limit; downscale it first)`,
    );
  }
  return { kind: 'encoded', bytes: new Uint8Array(bytes), mime: MIME[header.format] };
}

/** Turn an engine error into a CliError (exit 2) prefixed with `context`; other errors pass through unchanged. */
export function engineFailure(context: string, err: unknown): unknown {
  return err instanceof EngineError ? new CliError(`${context}: ${err.message}`) : err;
}
