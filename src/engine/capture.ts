/**
 * @file Attention capture: from the decoder's `decoder_attentions.<l>` outputs ([B=1, heads, q, kv], softmax
 * probabilities) take one query row, keep its image-token columns, and measure per (layer, head) the row's mass on
 * image tokens and its total (≈ 1). Pure typed-array code; the engine hands it the tensors' data.
 *
 * A graph may carry every query row of the call (q = the call's sequence length) or only its last (q = 1, what the
 * project's exporter writes); `'last'` reads row q − 1 of whatever each output holds, so both kinds work.
 */
import { rowImageShare } from '../core/aggregate.ts';

/** What the engine passes for one attention output. */
export interface AttentionData {
  data: Float32Array;
  /** [1, heads, q, kv] */
  dims: readonly number[];
}

/** The capture of one query row, in the StepRecord layout (layer-major, then head, then image token). */
export interface RowCapture {
  heads: number;
  attention: Float32Array;
  imageShare: Float32Array;
  rowSum: Float32Array;
}

/**
 * Captures query row `row` (or each output's last row, `'last'`) of each layer's attention over the image span
 * [start, start + length). Throws when shapes disagree (a graph whose outputs do not follow models/CONTRACT.md).
 */
export function captureRow(
  layers: AttentionData[],
  which: number | 'last',
  span: { start: number; length: number },
): RowCapture {
  if (layers.length === 0) {
    return { heads: 0, attention: new Float32Array(0), imageShare: new Float32Array(0), rowSum: new Float32Array(0) };
  }
  const heads = layers[0].dims[1];
  const n = span.length;
  const attention = new Float32Array(layers.length * heads * n);
  const imageShare = new Float32Array(layers.length * heads);
  const rowSum = new Float32Array(layers.length * heads);
  layers.forEach((t, l) => {
    const [b, h, q, kv] = t.dims;
    const row = which === 'last' ? q - 1 : which;
    if (t.dims.length !== 4 || b !== 1 || h !== heads) {
      throw new Error(`decoder_attentions output ${l} has shape [${t.dims.join(', ')}], expected [1, ${heads}, q, kv]`);
    }
    if (row < 0 || row >= q || span.start + n > kv) {
      throw new Error(`attention row ${row} / image span ${span.start}+${n} outside [1, ${h}, ${q}, ${kv}]`);
    }
    for (let hh = 0; hh < heads; hh++) {
      const base = (hh * q + row) * kv;
      let total = 0;
      for (let k = 0; k < kv; k++) total += t.data[base + k];
      const fullRow = t.data.subarray(base, base + kv);
      attention.set(fullRow.subarray(span.start, span.start + n), (l * heads + hh) * n);
      imageShare[l * heads + hh] = rowImageShare(fullRow, span.start, n);
      rowSum[l * heads + hh] = total;
    }
  });
  return { heads, attention, imageShare, rowSum };
}
