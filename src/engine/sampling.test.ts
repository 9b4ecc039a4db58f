/**
 * @file Unit tests of the engine's pure pieces: seeded sampling (replay, temperature, nucleus) and row capture
 * (layout, shares, shape checks), plus the error mapping of messages ORT / WebGPU are known to produce.
 */
import { describe, expect, it } from 'vitest';
import { captureRow } from './capture.ts';
import { toEngineError } from './errors.ts';
import { mulberry32, sampleToken } from './sampling.ts';

describe('sampling', () => {
  const logits = Float32Array.from([2, 1, 0.5, -1, 3]);

  it('replays exactly with the same seed', () => {
    const draw = (seed: number) => {
      const rng = mulberry32(seed);
      return Array.from({ length: 50 }, () => sampleToken(logits, 1, undefined, rng));
    };
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
  });

  it('follows softmax(logits / T): frequencies within 2 % over 20k draws', () => {
    const rng = mulberry32(1);
    const counts = new Array(logits.length).fill(0);
    for (let i = 0; i < 20_000; i++) counts[sampleToken(logits, 2, undefined, rng)]++;
    const w = Array.from(logits, (l) => Math.exp(l / 2));
    const z = w.reduce((a, b) => a + b);
    counts.forEach((c, i) => expect(Math.abs(c / 20_000 - w[i] / z)).toBeLessThan(0.02));
  });

  it('keeps only the top-p nucleus', () => {
    const rng = mulberry32(5);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(sampleToken(logits, 1, 0.7, rng));
    // p(4) ≈ 0.62, p(0) ≈ 0.23: the nucleus for 0.7 is {4, 0}.
    expect([...seen].sort()).toEqual([0, 4]);
  });
});

describe('captureRow', () => {
  // [1, heads=2, q=2, kv=4], rows sum to 1; image span = columns 1..2.
  const data = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.25, 0.25, 0.7, 0.1, 0.1, 0.1, 0.4, 0.3, 0.2, 0.1]);
  it('takes the row, the image columns, the share and the sum per (layer, head)', () => {
    const cap = captureRow([{ data, dims: [1, 2, 2, 4] }], 1, { start: 1, length: 2 });
    expect(cap.heads).toBe(2);
    expect(Array.from(cap.attention)).toEqual([0.25, 0.25, 0.30000001192092896, 0.20000000298023224]);
    expect(cap.imageShare[0]).toBeCloseTo(0.5, 6);
    expect(cap.imageShare[1]).toBeCloseTo(0.5, 6);
    expect(cap.rowSum[0]).toBeCloseTo(1, 6);
  });
  it("'last' reads each output's last row: a full-rows output and a last-row-only output give the same capture", () => {
    const full = captureRow([{ data, dims: [1, 2, 2, 4] }], 'last', { start: 1, length: 2 });
    const lastOnly = Float32Array.from([0.25, 0.25, 0.25, 0.25, 0.4, 0.3, 0.2, 0.1]);
    const one = captureRow([{ data: lastOnly, dims: [1, 2, 1, 4] }], 'last', { start: 1, length: 2 });
    expect(Array.from(full.attention)).toEqual([0.25, 0.25, 0.30000001192092896, 0.20000000298023224]);
    expect(Array.from(one.attention)).toEqual(Array.from(full.attention));
    expect(Array.from(one.imageShare)).toEqual(Array.from(full.imageShare));
    expect(Array.from(one.rowSum)).toEqual(Array.from(full.rowSum));
  });
  it('refuses shapes outside the contract', () => {
    expect(() => captureRow([{ data, dims: [1, 2, 2, 4] }], 2, { start: 1, length: 2 })).toThrow(/outside/);
    expect(() => captureRow([{ data, dims: [2, 1, 2, 4] }], 0, { start: 1, length: 2 })).toThrow(
      /shape \[2, 1, 2, 4\], expected \[1, /,
    );
  });
});

describe('toEngineError', () => {
  it.each([
    ['Buffer size (3185049600) exceeds the max buffer size limit (1073741824).', 'out_of_memory'],
    ['RangeError: Array buffer allocation failed', 'out_of_memory'],
    ["Failed to execute 'mapAsync' on 'GPUBuffer': The Device was lost before mapping was resolved.", 'device_lost'],
    ['Load model from /m/onnx/decoder_model_merged.onnx failed:Protobuf parsing failed.', 'corrupt_model'],
    [
      '`local_files_only=true` or `env.allowRemoteModels=false` and file was not found locally at "/m/config.json".',
      'missing_file',
    ],
    ['The device (webgpu) does not support fp16.', 'bad_input'],
    ['something else entirely', 'internal'],
  ])('%s → %s', (message, code) => {
    expect(toEngineError(new Error(message)).code).toBe(code);
  });
});
