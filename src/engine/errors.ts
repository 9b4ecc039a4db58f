/**
 * @file Error mapping for the engine: every failure leaves the engine as an {@link EngineError} with a code the UI
 * can act on and a message a user can read. Errors cross the worker boundary as plain {code, name, message}.
 */
import { EngineError, type EngineErrorCode } from './types.ts';

/** The plain-data form of an error crossing the worker boundary. */
export interface SerializedError {
  code: EngineErrorCode;
  name: string;
  message: string;
}

/** Substring patterns (lower-cased) of real ORT / WebGPU / transformers.js / V8 messages, first match wins. */
const PATTERNS: Array<[EngineErrorCode, RegExp]> = [
  [
    'device_lost',
    /device (was |is )?lost|devicelost|gpudevicelostinfo|device has been destroyed|destroyed device|instance dropped/,
  ],
  [
    'out_of_memory',
    /out of memory|outofmemory|\boom\b|bad_alloc|failed to allocate|allocation failed|could not allocate|cannot allocate|memory allocation|exceeds the max buffer size|buffer size .* exceeds|array buffer allocation|webassembly\.memory|maximum call stack|invalid array length|aborted\(oom\)|createbuffer.*(size|range)/,
  ],
  ['bad_input', /does not support fp16|shader-f16|unsupported device|invalid dtype/],
  [
    'download_failed',
    /\((connect|idle) timeout\)|\(size limit\)|\(total time limit\)|redirects \(last to|scheme is not accepted/,
  ],
  [
    'missing_file',
    /file was not found locally|not found locally|could not locate file|local file missing|enoent|no such file|status 404|\b404\b/,
  ],
  [
    'corrupt_model',
    /protobuf parsing failed|failed to load model|load model from .* failed|invalid onnx|model_proto|onnx model.*invalid|can't create a session|failed to create session|invalid model|unexpected end of|invalid wire type/,
  ],
];

/** Classifies any thrown value; `fallback` is used when no pattern matches. */
export function toEngineError(err: unknown, fallback: EngineErrorCode = 'internal', context?: string): EngineError {
  if (err instanceof EngineError) return err;
  const raw = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  const name = err instanceof Error ? err.name : '';
  const text = `${name} ${raw}`.toLowerCase();
  let code: EngineErrorCode = fallback;
  if (name === 'ModelFileNotFoundError') code = 'missing_file';
  else if (name === 'FetchLimitError') code = /: stopped$/.test(raw) ? 'cancelled' : 'download_failed';
  else if (name === 'AbortError') code = 'cancelled';
  else
    for (const [c, re] of PATTERNS)
      if (re.test(text)) {
        code = c;
        break;
      }
  const prefix = context ? `${context}: ` : '';
  return new EngineError(code, `${prefix}${HINTS[code]}${detail(code, raw)}`);
}

/** The useful part of a library message: the file concerned when there is one, else the message itself. */
function detail(code: EngineErrorCode, raw: string): string {
  const missing = /not found locally at "([^"]+)"|Local file missing at "([^"]+)"/.exec(raw);
  if (code === 'missing_file' && missing) return `: ${missing[1] ?? missing[2]}`;
  const corrupt = /Load model from (\S+) failed:\s*(.*)/s.exec(raw);
  if (code === 'corrupt_model' && corrupt) return `: ${corrupt[1]} (${corrupt[2].trim().slice(0, 300)})`;
  return raw ? ` (${raw.trim().slice(0, 600)})` : '';
}

/** One sentence per code, ahead of the underlying message. */
const HINTS: Record<EngineErrorCode, string> = {
  missing_file: 'A file of the model folder is missing',
  corrupt_model: 'A model file could not be read as ONNX (corrupt or truncated download?)',
  unsupported_architecture: 'This model architecture is not supported',
  bad_image: 'The image could not be decoded',
  bad_input: 'Invalid input',
  device_lost: 'The WebGPU device was lost',
  download_failed: 'A model file could not be downloaded',
  out_of_memory:
    'Out of memory: the model or the image is too large for this device (try a smaller precision or image)',
  cancelled: 'Cancelled',
  internal: 'Engine error',
};

/** Plain data for postMessage. */
export function serializeError(err: unknown): SerializedError {
  const e = toEngineError(err);
  return { code: e.code, name: e.name, message: e.message };
}

/** Rebuilds an {@link EngineError} on the receiving side. */
export function deserializeError(e: SerializedError): EngineError {
  return new EngineError(e.code, e.message);
}
