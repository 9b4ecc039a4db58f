/**
 * @file Can a model folder, at the chosen precision, be held by the chosen backend? Judged before any weight byte is
 * downloaded, from the sizes of the files transformers.js will load (its own file list for this config, dtype and
 * device; each file's size from the picked file, the model cache, a HEAD request, or the disk in Node).
 *
 * The limits, from how the runtimes hold a model:
 * - One ONNX graph file (`*.onnx`) is one protobuf message, which cannot exceed 2 GiB; larger weights must be stored
 *   as external data (`*.onnx_data`, `*.onnx_data_1`, …). This holds for every runtime.
 * - onnxruntime-web's WASM backend copies every graph and every external-data initializer into the WebAssembly heap,
 *   and wasm32 memory ends at 4 GiB (all of a worker's sessions share one heap), so a folder over 4 GiB cannot load.
 * - On WebGPU the graphs still go through the heap, but onnxruntime-web uploads each initializer the WebGPU execution
 *   provider owns straight from the fetched external-data file to a GPU buffer (its external-data loader's
 *   GPU branch), so the external data does not count against the 4 GiB; the graphs alone must fit.
 * - transformers.js reads each external-data file whole into one ArrayBuffer, and the engine's download limit stops
 *   any one file at DOWNLOAD_LIMITS.maxFileBytes (4 GiB); exporters split the weights into chunks of at most 2 GB.
 * - onnxruntime-node (the CLI) is native 64-bit and reads external data from disk: only the 2 GiB graph limit applies.
 */
import { DOWNLOAD_LIMITS } from '../core/limits.ts';
import type { Backend } from './types.ts';

/** The largest WebAssembly (wasm32) memory onnxruntime-web can grow to: 65,536 pages of 64 KiB. */
export const WASM32_BYTES = 4 * 1024 ** 3;
/** The largest protobuf message, hence the largest ONNX graph file. */
export const PROTOBUF_BYTES = 2 * 1024 ** 3;

/** One file the sessions will load: its path in the folder and its size (undefined: not known without downloading). */
export type SizedFile = [file: string, bytes: number | undefined];

const GIB = 1024 ** 3;
/** Bytes as GiB with two decimals ("4.57 GiB"), the unit of the limits. */
export function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

const isGraph = (f: string) => /\.onnx$/.test(f);
const isExternalData = (f: string) => /\.onnx_data(_\d+)?$/.test(f);

/** What the user can do instead, per backend. */
function wasmFix(dtype: string): string {
  const smaller = /q4|bnb4/.test(dtype) ? '' : 'a smaller precision such as q4f16 (WebGPU) or q4, or ';
  return (
    'Choose WebGPU (it uploads external data straight to the GPU, outside the 4 GiB WebAssembly memory), or ' +
    `${smaller}run it with the \`sayo\` CLI (onnxruntime-node has no 4 GiB limit)`
  );
}
const SPLIT_FIX =
  're-export the checkpoint with `python -m sayo_train export` (it writes weights as external data in chunks of at most 2 GB)';

/**
 * Why `files` (the folder's graphs and external data at the chosen precision) cannot be loaded by `backend` on
 * `platform`, or undefined when they fit or their sizes are not known. The message names the size, the limit and
 * what to do instead.
 */
export function fitProblem(
  files: readonly SizedFile[],
  backend: Backend,
  platform: 'browser' | 'node',
  dtype: string,
): string | undefined {
  const known = files.filter((f): f is [string, number] => typeof f[1] === 'number' && f[1] >= 0);
  const weights = known.filter(([f]) => isGraph(f) || isExternalData(f));
  const bigGraph = weights.find(([f, b]) => isGraph(f) && b > PROTOBUF_BYTES);
  if (bigGraph) {
    return (
      `${bigGraph[0]} is ${gib(bigGraph[1])}, over the 2 GiB an ONNX graph file can hold (one protobuf message), so no ` +
      `runtime can load it. To fix it, ${SPLIT_FIX}.`
    );
  }
  if (platform === 'node') return undefined;
  const bigFile = weights.find(([, b]) => b > DOWNLOAD_LIMITS.maxFileBytes);
  if (bigFile) {
    return (
      `${bigFile[0]} is ${gib(bigFile[1])}, more than the ${gib(DOWNLOAD_LIMITS.maxFileBytes)} the browser reads as one ` +
      `file. To fix it, ${SPLIT_FIX}.`
    );
  }
  const total = weights.reduce((a, [, b]) => a + b, 0);
  const graphs = weights.filter(([f]) => isGraph(f)).reduce((a, [, b]) => a + b, 0);
  const unknown = files.filter(([f, b]) => b === undefined && (isGraph(f) || isExternalData(f))).length;
  const partly = unknown ? ` (${unknown} more file${unknown > 1 ? 's' : ''} of unknown size not counted)` : '';
  if (backend === 'wasm' && total > WASM32_BYTES) {
    return (
      `This model's weights at ${dtype} are ${gib(total)} (${weights.length} files${partly}), more than WASM can hold: ` +
      `WebAssembly memory (wasm32) ends at ${gib(WASM32_BYTES)}, and every weight must be copied into it. ` +
      `${wasmFix(dtype)}.`
    );
  }
  if (backend === 'webgpu' && graphs > WASM32_BYTES) {
    return (
      `This model's graph files at ${dtype} are ${gib(graphs)}${partly}, more than the ${gib(WASM32_BYTES)} of ` +
      `WebAssembly memory they are parsed in (only external data goes straight to the GPU). To fix it, ${SPLIT_FIX}.`
    );
  }
  return undefined;
}

/** A dtype as one short text for messages ("q4f16", or "decoder_model_merged q4, vision_encoder fp16"). */
export function dtypeText(dtype: string | Record<string, string>): string {
  return typeof dtype === 'string'
    ? dtype
    : Object.entries(dtype)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
}
