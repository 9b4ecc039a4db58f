/**
 * @file Whether a folder fits the chosen backend, judged before downloading: the rule (fit.ts) on file lists, and the
 * Node engine on real folders on disk (sparse files where large), refused before any graph is opened.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { fitProblem, gib, PROTOBUF_BYTES, WASM32_BYTES, type SizedFile } from './fit.ts';
import { createNodeEngine, DEFAULT_MODELS_DIR } from './node.ts';

const GB = 1e9;
/** A q4 decoder of about 4.6 GB split as the exporter splits it (≤ 2 GB chunks), with small vision/embed graphs. */
const BIG: SizedFile[] = [
  ['onnx/vision_encoder_fp16.onnx', 1_000_000],
  ['onnx/vision_encoder_fp16.onnx_data', 1.1 * GB],
  ['onnx/embed_tokens_q4.onnx', 500_000],
  ['onnx/embed_tokens_q4.onnx_data', 0.35 * GB],
  ['onnx/decoder_model_merged_q4.onnx', 3_000_000],
  ['onnx/decoder_model_merged_q4.onnx_data', 2 * GB],
  ['onnx/decoder_model_merged_q4.onnx_data_1', 1.3 * GB],
];
const total = BIG.reduce((a, [, b]) => a + (b ?? 0), 0);

describe('fitProblem', () => {
  it('refuses a folder over 4 GiB on WASM, naming its size, the limit and what to do', () => {
    const msg = fitProblem(BIG, 'wasm', 'browser', 'fp16')!;
    expect(total).toBeGreaterThan(WASM32_BYTES);
    expect(msg).toContain(gib(total));
    expect(msg).toContain('4.00 GiB');
    expect(msg).toMatch(/Choose WebGPU/);
    expect(msg).toMatch(/q4f16/);
    expect(msg).toContain('7 files');
    // Already 4-bit: the fix is WebGPU or the CLI, not a smaller precision.
    const q4 = fitProblem(BIG, 'wasm', 'browser', 'q4')!;
    expect(q4).toMatch(/at q4 are .*Choose WebGPU/);
    expect(q4).not.toMatch(/smaller precision/);
  });

  it('accepts the same folder on WebGPU (external data goes to the GPU) and in Node (onnxruntime-node is 64-bit)', () => {
    expect(fitProblem(BIG, 'webgpu', 'browser', 'q4')).toBeUndefined();
    expect(fitProblem(BIG, 'cpu', 'node', 'q4')).toBeUndefined();
  });

  it('accepts a folder just under 4 GiB on WASM and refuses one byte more', () => {
    const at = (b: number): SizedFile[] => [
      ['onnx/decoder_model_merged.onnx', 1e6],
      ['onnx/decoder_model_merged.onnx_data', b - 1e6],
    ];
    expect(fitProblem(at(WASM32_BYTES), 'wasm', 'browser', 'fp32')).toBeUndefined();
    expect(fitProblem(at(WASM32_BYTES + 1), 'wasm', 'browser', 'fp32')).toMatch(/more than WASM can hold/);
  });

  it('refuses a graph file over 2 GiB on every backend and platform (one protobuf message)', () => {
    const files: SizedFile[] = [['onnx/decoder_model_merged.onnx', PROTOBUF_BYTES + 1]];
    for (const [backend, platform] of [
      ['wasm', 'browser'],
      ['webgpu', 'browser'],
      ['cpu', 'node'],
    ] as const) {
      expect(fitProblem(files, backend, platform, 'fp32')).toMatch(
        /over the 2 GiB an ONNX graph file can hold.*sayo_train export/,
      );
    }
  });

  it('refuses in the browser one external-data file larger than the download limit, and says to split it', () => {
    const files: SizedFile[] = [
      ['onnx/decoder_model_merged.onnx', 1e6],
      ['onnx/decoder_model_merged.onnx_data', 4.5 * 1024 ** 3],
    ];
    expect(fitProblem(files, 'webgpu', 'browser', 'fp16')).toMatch(/onnx_data is 4\.50 GiB.*chunks of at most 2 GB/);
    expect(fitProblem(files, 'cpu', 'node', 'fp16')).toBeUndefined();
  });

  it('counts only known sizes and says how many were unknown; says nothing when nothing is known', () => {
    const files: SizedFile[] = [...BIG, ['onnx/decoder_model_merged_q4.onnx_data_2', undefined]];
    expect(fitProblem(files, 'wasm', 'browser', 'q4')).toContain('1 more file of unknown size not counted');
    expect(
      fitProblem(
        BIG.map(([f]) => [f, undefined] as SizedFile),
        'wasm',
        'browser',
        'q4',
      ),
    ).toBeUndefined();
  });

  it('ignores files that are not graphs or external data', () => {
    expect(fitProblem([['tokenizer.json', 5 * 1024 ** 3]], 'wasm', 'browser', 'fp32')).toBeUndefined();
  });
});

describe('the Node engine', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  /** SAYO-mini with its decoder graph replaced by a sparse file of `bytes`. */
  function withDecoderOf(bytes: number): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sayo-fit-'));
    dirs.push(dir);
    fs.cpSync(path.join(DEFAULT_MODELS_DIR, 'sayo-mini'), dir, { recursive: true });
    const fd = fs.openSync(path.join(dir, 'onnx', 'decoder_model_merged.onnx'), 'w');
    fs.ftruncateSync(fd, bytes);
    fs.closeSync(fd);
    return dir;
  }

  it('refuses a folder whose decoder graph is over 2 GiB before any graph is opened', async () => {
    const dir = withDecoderOf(PROTOBUF_BYTES + 4096);
    const open = vi.spyOn(fs.promises, 'open');
    const engine = createNodeEngine();
    const err = await engine.load({ kind: 'path', path: dir }).then(
      () => undefined,
      (e) => e,
    );
    expect(err?.code).toBe('out_of_memory');
    expect(err?.message).toMatch(
      /onnx\/decoder_model_merged\.onnx is 2\.00 GiB, over the 2 GiB an ONNX graph file can hold/,
    );
    expect(open.mock.calls.filter(([f]) => String(f).endsWith('.onnx'))).toEqual([]);
    open.mockRestore();
  });
});
