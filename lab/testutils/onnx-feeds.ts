/**
 * @file Inputs for a decoder graph built from its declared input shapes, to run two exports on the same data:
 * symbolic dims resolve to batch 1, `sequence_length` S, `past_sequence_length` P and `total_sequence_length` P+S.
 */
import * as ort from 'onnxruntime-node';
import { onnx, toNum, type GraphProto } from '../../src/cli/onnx/model.ts';

/** Lengths used for symbolic dims. */
export interface FeedSizes {
  sequence: number;
  past: number;
  seed?: number;
}

function dimValue(name: string, sizes: FeedSizes): number {
  const n = name.toLowerCase();
  if (n.includes('batch')) return 1;
  if (n.includes('total')) return sizes.past + sizes.sequence;
  if (n.includes('past')) return sizes.past;
  if (n.includes('seq')) return sizes.sequence;
  return 1;
}

/** Deterministic feeds for every graph input (floats uniform in ±1, masks of ones, positions past…past+S-1). */
export function decoderFeeds(graph: GraphProto, sizes: FeedSizes): Record<string, ort.Tensor> {
  let s = (sizes.seed ?? 11) >>> 0 || 1;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 0x100000000) * 2 - 1;
  };
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of graph.input ?? []) {
    const name = input.name ?? '';
    const t = input.type?.tensorType;
    if (!t) continue;
    const dims = (t.shape?.dim ?? []).map((d) =>
      d.dimValue != null && toNum(d.dimValue) > 0 ? toNum(d.dimValue) : dimValue(d.dimParam ?? '', sizes),
    );
    const size = dims.reduce((a, b) => a * b, 1);
    if (t.elemType === onnx.TensorProto.DataType.INT64) {
      const data = new BigInt64Array(size);
      if (name.includes('mask')) data.fill(1n);
      else if (name.includes('position'))
        for (let i = 0; i < size; i++) data[i] = BigInt(sizes.past + (i % sizes.sequence));
      feeds[name] = new ort.Tensor('int64', data, dims);
    } else {
      const data = Float32Array.from({ length: size }, rand);
      if (name.includes('bias') || name.includes('mask')) data.fill(0);
      feeds[name] = new ort.Tensor('float32', data, dims);
    }
  }
  return feeds;
}

/** Largest absolute difference between two float tensors of the same shape. */
export function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  if (a.dims.join() !== b.dims.join()) return Infinity;
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}
