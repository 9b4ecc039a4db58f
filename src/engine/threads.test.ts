/**
 * @file The thread rule shared by Node and the browser: one thread below MULTI_THREAD_BYTES of decoder, two from it
 * on (never more than the cores), and the decoder's bytes as the largest graph with its external data.
 */
import { describe, expect, it } from 'vitest';
import { largestDecoderBytes, MULTI_THREAD_BYTES, threadsForDecoder } from './threads.ts';

describe('threadsForDecoder', () => {
  it('gives one thread below MULTI_THREAD_BYTES and two from it on, at most the cores', () => {
    expect(threadsForDecoder(MULTI_THREAD_BYTES - 1, 8)).toBe(1);
    expect(threadsForDecoder(MULTI_THREAD_BYTES, 8)).toBe(2);
    expect(threadsForDecoder(MULTI_THREAD_BYTES, 2)).toBe(2);
    expect(threadsForDecoder(MULTI_THREAD_BYTES, 1)).toBe(1);
    expect(threadsForDecoder(MULTI_THREAD_BYTES, 0)).toBe(1); // navigator.hardwareConcurrency unknown
  });
});

describe('largestDecoderBytes', () => {
  it('counts a graph with its external data, precisions apart, other sessions not at all', () => {
    expect(largestDecoderBytes([])).toBe(0);
    expect(
      largestDecoderBytes([
        ['onnx/decoder_model_merged.onnx', 1000],
        ['onnx/decoder_model_merged.onnx_data', 5000],
        ['onnx/decoder_model_merged.onnx_data_1', 3000],
        ['onnx/decoder_model_merged_q4.onnx', 7000],
        ['onnx/vision_encoder.onnx', 50_000],
        ['onnx/decoder_model_merged.json', 90_000],
      ]),
    ).toBe(9000);
  });
});
