/**
 * @file How many ONNX Runtime intra-op threads a model runs with: one rule for Node (onnxruntime-node, per session)
 * and the browser (onnxruntime-web's WASM thread pool, one per engine worker, only when the page is cross-origin
 * isolated). Each platform measures the decoder's bytes its own way (files on disk; picked files, the model cache or
 * a HEAD request in the browser) and asks {@link threadsForDecoder}. The figures behind the rule are in
 * docs/bench/LOG.md, "ORT intra-op threads".
 */

/** Decoder bytes (graph + external data, any precision) from which 2 intra-op threads decode faster than 1. */
export const MULTI_THREAD_BYTES = 20e6;

/** Intra-op threads for a decoder of `bytes`: 2 (at most `cores`) from MULTI_THREAD_BYTES on, else 1. */
export function threadsForDecoder(bytes: number, cores: number): number {
  return bytes >= MULTI_THREAD_BYTES ? Math.max(1, Math.min(2, Math.floor(cores) || 1)) : 1;
}

/**
 * The bytes of the largest decoder graph among `files` (name → bytes; the names of a folder's onnx/ files): each
 * `decoder_model_merged*.onnx` with its external data (`.onnx_data`, `.onnx_data_1`, …). Precisions are separate
 * graphs, so the largest one counts, not their sum. 0 when there is none.
 */
export function largestDecoderBytes(files: Iterable<[string, number]>): number {
  const byGraph = new Map<string, number>();
  for (const [name, size] of files) {
    const f = name.slice(name.lastIndexOf('/') + 1);
    if (!f.startsWith('decoder_model_merged') || !/\.onnx(_data(_\d+)?)?$/.test(f)) continue;
    const graph = f.replace(/\.onnx_data(_\d+)?$/, '.onnx');
    byGraph.set(graph, (byGraph.get(graph) ?? 0) + size);
  }
  return Math.max(0, ...byGraph.values());
}
