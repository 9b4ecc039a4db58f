/**
 * @file The Node platform: its thread default (one intra-op thread for a small decoder, two, at most the cores, from
 * MULTI_THREAD_BYTES on, counting a graph's external data with it; real files on disk, sparse where large), and the
 * file lookups it answers for transformers.js (graphs by path, other files by content, no read stream left running).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createNodeEngine, DEFAULT_MODELS_DIR, defaultThreads, folderFiles, MULTI_THREAD_BYTES } from './node.ts';

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
    expect(
      defaultThreads(
        folder({ 'decoder_model_merged.onnx': 1000, 'decoder_model_merged.onnx_data': MULTI_THREAD_BYTES }),
      ),
    ).toBe(two);
    // precisions are separate graphs: the largest one decides, not their sum
    expect(
      defaultThreads(
        folder({
          'decoder_model_merged.onnx': 0.6 * MULTI_THREAD_BYTES,
          'decoder_model_merged_q4.onnx': 0.6 * MULTI_THREAD_BYTES,
        }),
      ),
    ).toBe(1);
  });

  it('reports the threads a model runs with in its info, and takes LoadOptions.threads over the rule', async () => {
    const engine = createNodeEngine();
    const rule = await engine.load({ kind: 'registry', id: 'sayo-mini' });
    const asked = await engine.load({ kind: 'registry', id: 'sayo-mini' }, { threads: 2 });
    expect([rule.threads, asked.threads]).toEqual([1, 2]);
    expect(rule.threadsNote).toBeUndefined();
    await engine.unload(rule.handle);
    await engine.unload(asked.handle);
  });

  it('falls back to one thread for a folder without onnx/', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-threads-'));
    dirs.push(empty);
    expect(defaultThreads(empty)).toBe(1);
  });
});

describe('folderFiles', () => {
  const mini = path.join(DEFAULT_MODELS_DIR, 'sayo-mini');

  it('answers a graph under its file: URL with its path, and any file under its path with its bytes and size', async () => {
    const graph = path.join(mini, 'onnx/decoder_model_merged.onnx');
    expect(await folderFiles.match(pathToFileURL(graph).href)).toBe(graph);
    const byPath = (await folderFiles.match(graph)) as Response;
    expect(byPath.headers.get('content-length')).toBe(String(fs.statSync(graph).size));
    expect(Buffer.from(await byPath.arrayBuffer()).equals(fs.readFileSync(graph))).toBe(true);
    const config = (await folderFiles.match(path.join(mini, 'config.json'))) as Response;
    expect(config).toBeInstanceOf(Response);
    expect(await config.json()).toEqual(JSON.parse(fs.readFileSync(path.join(mini, 'config.json'), 'utf8')));
    expect(config.headers.get('content-length')).toBe(String(fs.statSync(path.join(mini, 'config.json')).size));
  });

  it('leaves a missing file, a folder and a relative key to transformers.js', async () => {
    expect(await folderFiles.match(path.join(mini, 'onnx/nothing.onnx'))).toBeUndefined();
    expect(await folderFiles.match(mini)).toBeUndefined();
    expect(await folderFiles.match('onnx/decoder_model_merged.onnx')).toBeUndefined();
    expect(await folderFiles.match(undefined)).toBeUndefined();
  });

  it('loads and answers with SAYO-mini without opening a read stream on any of its files', async () => {
    const streams = vi.spyOn(fs, 'createReadStream');
    try {
      const engine = createNodeEngine();
      const info = await engine.load({ kind: 'registry', id: 'sayo-mini' });
      const image = {
        kind: 'encoded' as const,
        bytes: new Uint8Array(fs.readFileSync(path.join(DEFAULT_MODELS_DIR, '../public/samples/sample-01.png'))),
      };
      const s = await engine.generate(
        info.handle,
        { image, question: 'What shape is the blue object?', maxNewTokens: 2 },
        {},
      );
      expect(s.tokens).toBeGreaterThan(0);
      await engine.unload(info.handle);
      expect(streams.mock.calls.map((c) => String(c[0]))).toEqual([]);
    } finally {
      streams.mockRestore();
    }
  });
});
