/**
 * @file Does onnxruntime load a model? The real check behind `sayo expose-attention` and `sayo inspect`: a graph that
 * decodes as protobuf can still be one onnxruntime refuses (bad types, broken references, byte flips in attributes).
 */
import * as ort from 'onnxruntime-node';
import { messageOf } from '../lib/errors.ts';

/** onnxruntime's reason for refusing `model` (a file path, or bytes without external data), or null when it loads.
 * Graph optimisations are disabled: the check builds the graph and its kernels, nothing more. */
export async function ortLoadError(model: string | Uint8Array): Promise<string | null> {
  try {
    const session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled' })
        : await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled' });
    await session.release();
    return null;
  } catch (err) {
    const text = messageOf(err).replace(/\s+/g, ' ').trim();
    return text.length > 400 ? `${text.slice(0, 400)}…` : text;
  }
}
