/**
 * @file The Node platform's thread default: one intra-op thread for a small decoder, two (at most the cores) from
 * MULTI_THREAD_BYTES on, counting a graph's external data with it (real files on disk, sparse where large).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODELS_DIR, defaultThreads, MULTI_THREAD_BYTES } from './node.ts';

const dirs: string[] = [];
function folder(files: Record<string, number>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-threads-'));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'onnx'));
  for (const [name, size] of Object.entries(files)) {
    const fd = fs.openSync(path.join(dir, 'onnx', name), 'w');
    fs.ftruncateSync(fd, size);
    fs.closeSync(fd);
  }
  return dir;
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('defaultThreads', () => {
  const two = Math.min(2, os.availableParallelism());

  it('keeps SAYO-mini on one thread', () => {
    expect(defaultThreads(path.join(DEFAULT_MODELS_DIR, 'sayo-mini'))).toBe(1);
  });

  it('gives a decoder from MULTI_THREAD_BYTES on two threads, its external data counted with it', () => {
    expect(defaultThreads(folder({ 'decoder_model_merged.onnx': MULTI_THREAD_BYTES - 1 }))).toBe(1);
    expect(defaultThreads(folder({ 'decoder_model_merged.onnx': MULTI_THREAD_BYTES }))).toBe(two);
    expect(defaultThreads(folder({ 'decoder_model_merged.onnx': 1000, 'decoder_model_merged.onnx_data': MULTI_THREAD_BYTES }))).toBe(two);
    // precisions are separate graphs: the largest one decides, not their sum
    expect(defaultThreads(folder({ 'decoder_model_merged.onnx': 0.6 * MULTI_THREAD_BYTES, 'decoder_model_merged_q4.onnx': 0.6 * MULTI_THREAD_BYTES }))).toBe(1);
  });

  it('falls back to one thread for a folder without onnx/', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-threads-'));
    dirs.push(empty);
    expect(defaultThreads(empty)).toBe(1);
  });
});
