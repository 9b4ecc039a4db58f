/**
 * @file The ladder of random-weight checkpoints the scale benchmark runs on (`python -m sayo_train ladder`, built on
 * demand and cached), and what the benchmark derives from a rung: its decode variants, its quantized precisions, the
 * decoder bytes read per token, and the square images at fixed image-token counts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { dtypeFileSuffix } from '../../src/engine/families/layout.ts';
import { decoderDtype, type Precision, type Variant } from './scale-node.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const WORK = path.join(ROOT, 'node_modules/.cache/sayo-bench-scale');
/** The question every scale job asks. */
export const QUESTION = 'What shape is the blue object?';
/** Square images whose sides are multiples of 28 px: 10² = 100, 20² = 400, 36² = 1,296 image tokens. */
export const IMAGE_SIDES: Record<string, number> = { '100': 280, '400': 560, '1300': 1008 };

/** One rung as `python -m sayo_train ladder --json` reports it. */
export interface LadderEntry {
  rung: string;
  path: string;
  /** The same weights without attention outputs; null for a light rung (2b), whose capture cost is measured against
   * the same graph with nothing fetched. */
  noattn: string | null;
  /** A DeepStack rung's twin: the same checkpoint without DeepStack (null for other rungs). */
  twin?: string | null;
  /** Why the rung was built light (last layer's attention, q4 only), or empty. */
  light?: string;
  /** Quantized decoders the rung has (transformers.js dtypes). */
  quantized?: string[];
  layers: number;
  heads: number;
  params: number;
  decoder_params: number;
  built: boolean;
}

/** How {@link ensureLadder} builds. */
export interface LadderOptions {
  /** Also build the q4 and q8 decoders. */
  quantized?: boolean;
  /** Let the builder (and onnxruntime's quantizer) log at INFO; otherwise warnings and errors only. */
  verbose?: boolean;
}

/** The ladder's rungs, built if missing (one command: `python -m sayo_train ladder`). */
export function ensureLadder(
  rungs: string[],
  { quantized = false, verbose = false }: LadderOptions = {},
): LadderEntry[] {
  const venv = path.join(ROOT, '.venv/bin/python');
  const py = fs.existsSync(venv) ? venv : 'python3';
  const flags = [...(quantized ? ['--quantized'] : []), ...(verbose ? ['--verbose'] : [])];
  const r = spawnSync(py, ['-m', 'sayo_train', 'ladder', '--rungs', rungs.join(','), '--json', ...flags], {
    cwd: path.join(ROOT, 'training'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`python -m sayo_train ladder failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** Copy bandwidth of this machine in one thread (GB/s read): best of 5 copies of a 256 MB buffer. */
export function copyBandwidthGBs(): number {
  const n = 64 * 2 ** 20;
  const a = new Float32Array(n).fill(1);
  const b = new Float32Array(n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    b.set(a);
    best = Math.min(best, performance.now() - t0);
  }
  return (n * 4) / (best / 1000) / 1e9;
}

/** Bytes of decoder weights read per generated token: the decoder graph (layers + LM head; one embedding row is
 * negligible), of the precision benchmarked. */
export function weightBytesPerToken(e: LadderEntry, dtype: Precision = 'fp32'): number {
  return fs.statSync(path.join(e.path, 'onnx', `decoder_model_merged${dtypeFileSuffix(decoderDtype(dtype))}.onnx`))
    .size;
}

/** Decode variants a rung runs: a light rung (one captured layer, no noattn view) has no 'all' and no 'noattn'. */
export function variantsOf(e: LadderEntry): Variant[] {
  return e.noattn ? ['all', 'last', 'none', 'noattn', 'tjs', 'tjs-attn'] : ['last', 'none', 'tjs', 'tjs-attn'];
}

/** Quantized precisions a rung is measured in: the q4 and q8 decoders, or a light rung's whole 4-bit set. */
export function quantizedUnits(e: LadderEntry): Precision[] {
  return e.light ? ['q4-all'] : ['q4', 'q8'];
}

/** The benchmark images (from the first sample, square, `sides` by label), written once. */
export async function images(sides: Record<string, number> = IMAGE_SIDES): Promise<Record<string, string>> {
  fs.mkdirSync(WORK, { recursive: true });
  const src = await RawImage.read(path.join(ROOT, 'public/samples/sample-01.png'));
  const out: Record<string, string> = {};
  for (const [k, side] of Object.entries(sides)) {
    out[k] = path.join(WORK, `image-${side}.png`);
    if (!fs.existsSync(out[k])) await (await src.resize(side, side)).save(out[k]);
  }
  return out;
}
