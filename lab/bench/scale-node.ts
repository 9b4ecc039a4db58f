/**
 * @file One job of the scale benchmark in Node (onnxruntime-node), run in a process of its own so its peak RSS
 * belongs to that job alone: `npx tsx lab/bench/scale-node.ts '<job JSON>'` prints one line `SCALE_RESULT <json>`.
 *
 * - `decode`: the engine on the rung's decoder (capture all layers / last layer / none) and on the same weights
 *   without attention outputs (the noattn view), and transformers.js's own `generate()` on the same folder with and
 *   without `output_attentions` (lab/support/tjs-generate.ts, the runner Chromium uses too), interleaved round-robin in one
 *   process (rotated order each round), medians.
 *   Also first token cold (first answer after loading) and warm, and the bytes per token a StepRecord carries
 *   across the worker boundary.
 * - `memory`: one forced-length answer with one variant, RSS sampled at every step (per 128 tokens in the table),
 *   and the process's peak RSS.
 * - `threads`: the engine with 1 and 2 ORT intra-op threads, interleaved (capture last layer).
 * A decode job with a `twin` (a DeepStack rung's copy without DeepStack) also runs variant `twin`: the engine on the
 * twin capturing its last layer, interleaved with the others.
 */
import fs from 'node:fs';
import { decodeImage } from '../../src/engine/image.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import type { InThreadEngine } from '../../src/engine/engine.ts';
import type { GenerateRequest, ModelInfo, PromptInfo, StepRecord } from '../../src/engine/types.ts';
import { decodeTps as tps, median } from '../support/stats.ts';
import { transformersJs } from '../support/tjs-generate.ts';

/** Precision of a job: fp32 everywhere; a quantized decoder (the ladder's `--quantized`: 4-bit MatMulNBits, or 8-bit
 * dynamic quantization) with fp32 vision and embeddings; or 'q4-all', every graph 4-bit (transformers.js's dtype 'q4',
 * what a 2 B model needs to fit wasm32: its fp32 vision tower alone is 2.7 GB). */
export type Precision = 'fp32' | 'q4' | 'q8' | 'q4-all';
export const DTYPE = (p: Precision | undefined) =>
  p === 'q4' || p === 'q8'
    ? { decoder_model_merged: p, embed_tokens: 'fp32', vision_encoder: 'fp32' }
    : p === 'q4-all'
      ? 'q4'
      : 'fp32';
/** The transformers.js dtype of the decoder graph a precision loads. */
export const decoderDtype = (p: Precision = 'fp32') => (p === 'q4-all' ? 'q4' : p);

export type Variant = 'all' | 'last' | 'none' | 'noattn' | 'tjs' | 'tjs-attn' | 'twin';

export interface DecodeJob {
  dtype?: Precision;
  kind: 'decode';
  model: string;
  /** The view without attention outputs (absent for a light rung: the 'noattn' variant is then not run). */
  noattn?: string;
  /** The same checkpoint without DeepStack (variant 'twin'). */
  twin?: string;
  image: string;
  question: string;
  tokens: number;
  rounds: number;
  threads: number;
  variants: Variant[];
  /** Measure first token cold and warm (default true; the sweeps skip it). */
  firstToken?: boolean;
}
export interface MemoryJob {
  dtype?: Precision;
  kind: 'memory';
  model: string;
  image: string;
  question: string;
  tokens: number;
  threads: number;
  capture: 'all' | 'last' | 'none';
}
export interface ThreadsJob {
  dtype?: Precision;
  kind: 'threads';
  model: string;
  image: string;
  question: string;
  tokens: number;
  rounds: number;
  threads: number[];
}
export type ScaleJob = DecodeJob | MemoryJob | ThreadsJob;

/** Figures of one variant: medians over the rounds. */
export interface VariantFigures {
  prefillMs: number;
  decodeTps: number;
  /** Share of the run's time spent in the engine's capture code (ours only). */
  captureShare?: number;
  /** Bytes of one StepRecord as posted by the worker (typed arrays + token text), mean over the answer. */
  bytesPerToken?: number;
  tokens: number;
  /** Decode tokens/s of every round, in round order (a round runs every variant back to back). */
  roundsTps?: number[];
}
export interface DecodeResult {
  kind: 'decode';
  imageTokens: number;
  promptTokens: number;
  firstTokenColdMs: number;
  firstTokenWarmMs: number;
  variants: Partial<Record<Variant, VariantFigures>>;
  peakRssMb: number;
}
export interface MemoryResult {
  kind: 'memory';
  imageTokens: number;
  promptTokens: number;
  prefillMs: number;
  decodeTps: number;
  /** [generated tokens, RSS MB] at token 1 and every 128 tokens. */
  rssAt: Array<[number, number]>;
  peakRssMb: number;
}
export interface ThreadsResult {
  kind: 'threads';
  imageTokens?: number;
  /** Medians over the rounds, and every round's figures (the spread the medians hide). */
  byThreads: Record<
    string,
    { prefillMs: number; decodeTps: number; rounds?: Array<{ prefillMs: number; decodeTps: number }> }
  >;
}
export type ScaleResult = DecodeResult | MemoryResult | ThreadsResult;

const rssMb = () => process.memoryUsage.rss() / 2 ** 20;
const peakMb = () => process.resourceUsage().maxRSS / 1024;

function stepBytes(s: StepRecord): number {
  return (
    s.attention.byteLength +
    s.imageShare.byteLength +
    s.rowSum.byteLength +
    new TextEncoder().encode(s.text).length +
    8 * 5
  );
}

/** The engine's runs: one generate() of a forced length, timed by the engine itself. */
async function ours(
  engine: InThreadEngine,
  info: ModelInfo,
  base: GenerateRequest,
  layers: number[] | undefined,
  onPrompt?: (p: PromptInfo) => void,
): Promise<VariantFigures> {
  let bytes = 0;
  const s = await engine.generate(
    info.handle,
    { ...base, captureLayers: layers },
    { onPrompt, onStep: (r) => (bytes += stepBytes(r)) },
  );
  return {
    prefillMs: s.prefillMs,
    decodeTps: tps(s.tokens, s.decodeMs),
    captureShare: (s.captureMs ?? 0) / (s.prefillMs + s.decodeMs),
    bytesPerToken: bytes / s.tokens,
    tokens: s.tokens,
  };
}

function summarise(xs: VariantFigures[]): VariantFigures {
  const m = (f: (v: VariantFigures) => number | undefined) => {
    const v = xs.map(f).filter((x): x is number => x !== undefined);
    return v.length ? median(v) : undefined;
  };
  return {
    prefillMs: m((x) => x.prefillMs)!,
    decodeTps: m((x) => x.decodeTps)!,
    captureShare: m((x) => x.captureShare),
    bytesPerToken: m((x) => x.bytesPerToken),
    tokens: xs[0].tokens,
    roundsTps: xs.map((x) => x.decodeTps),
  };
}

async function decodeJob(job: DecodeJob): Promise<DecodeResult> {
  const bytes = new Uint8Array(fs.readFileSync(job.image));
  const base: GenerateRequest = {
    image: { kind: 'encoded', bytes },
    question: job.question,
    maxNewTokens: job.tokens,
    minNewTokens: job.tokens,
  };
  const engine = createNodeEngine({ threads: job.threads });
  const info = await engine.load({ kind: 'path', path: job.model }, { dtype: DTYPE(job.dtype) });
  let prompt: { imageTokens: number; promptTokens: number } = { imageTokens: 0, promptTokens: 0 };
  const setPrompt = (p: PromptInfo) => (prompt = { imageTokens: p.imageSpan.length, promptTokens: p.promptTokens });
  const first = async () => {
    const t0 = performance.now();
    let at = NaN;
    await engine.generate(
      info.handle,
      { ...base, maxNewTokens: 1, minNewTokens: 0 },
      {
        onPrompt: setPrompt,
        onStep: () => (at = performance.now() - t0),
      },
    );
    return at;
  };
  const timeFirst = job.firstToken !== false;
  const firstTokenColdMs = timeFirst ? await first() : NaN;
  const firstTokenWarmMs = timeFirst ? median([await first(), await first(), await first()]) : NaN;
  const last = info.attentionLayers[info.attentionLayers.length - 1];
  const needs = (v: Variant) => job.variants.includes(v);
  const noattn = needs('noattn') ? { engine: createNodeEngine({ threads: job.threads }) } : undefined;
  const noattnInfo = noattn
    ? await noattn.engine.load({ kind: 'path', path: job.noattn! }, { dtype: DTYPE(job.dtype) })
    : undefined;
  const twin = needs('twin') ? createNodeEngine({ threads: job.threads }) : undefined;
  const twinInfo = twin ? await twin.load({ kind: 'path', path: job.twin! }, { dtype: DTYPE(job.dtype) }) : undefined;
  const tjs =
    needs('tjs') || needs('tjs-attn')
      ? await transformersJs(job.model, {
          dtype: DTYPE(job.dtype),
          device: 'cpu',
          session_options: { intraOpNumThreads: job.threads, interOpNumThreads: 1 },
        })
      : undefined;
  const image = await decodeImage({ kind: 'encoded', bytes });
  const runners: Record<Variant, () => Promise<VariantFigures>> = {
    all: () => ours(engine, info, base, undefined, setPrompt),
    last: () => ours(engine, info, base, last === undefined ? [] : [last], setPrompt),
    none: () => ours(engine, info, base, []),
    noattn: () => ours(noattn!.engine, noattnInfo!, base, []),
    twin: () => ours(twin!, twinInfo!, base, twinInfo!.attentionLayers.slice(-1)),
    tjs: () => tjs!.run(image, job.question, job.tokens, false),
    'tjs-attn': () => tjs!.run(image, job.question, job.tokens, true),
  };
  const results: Partial<Record<Variant, VariantFigures[]>> = {};
  for (const v of job.variants) await runners[v](); // warm-up of every variant
  for (let r = 0; r < job.rounds; r++) {
    // Round-robin with the order rotated each round: no variant always runs first or last.
    const order = job.variants.map((_, i) => job.variants[(i + r) % job.variants.length]);
    for (const v of order) (results[v] ??= []).push(await runners[v]());
  }
  await engine.unload(info.handle);
  if (noattn) await noattn.engine.unload(noattnInfo!.handle);
  if (twin) await twin.unload(twinInfo!.handle);
  await tjs?.dispose();
  const variants: DecodeResult['variants'] = {};
  for (const [v, xs] of Object.entries(results)) variants[v as Variant] = summarise(xs!);
  return { kind: 'decode', ...prompt, firstTokenColdMs, firstTokenWarmMs, variants, peakRssMb: peakMb() };
}

async function memoryJob(job: MemoryJob): Promise<MemoryResult> {
  const bytes = new Uint8Array(fs.readFileSync(job.image));
  const engine = createNodeEngine({ threads: job.threads });
  const info = await engine.load({ kind: 'path', path: job.model }, { dtype: DTYPE(job.dtype) });
  const last = info.attentionLayers[info.attentionLayers.length - 1];
  const layers = job.capture === 'all' ? undefined : job.capture === 'none' || last === undefined ? [] : [last];
  const rssAt: Array<[number, number]> = [];
  let prompt = { imageTokens: 0, promptTokens: 0 };
  let n = 0;
  const s = await engine.generate(
    info.handle,
    {
      image: { kind: 'encoded', bytes },
      question: job.question,
      maxNewTokens: job.tokens,
      minNewTokens: job.tokens,
      captureLayers: layers,
    },
    {
      onPrompt: (p) => (prompt = { imageTokens: p.imageSpan.length, promptTokens: p.promptTokens }),
      onStep: () => {
        n++;
        if (n === 1 || n % 128 === 0) rssAt.push([n, rssMb()]);
      },
    },
  );
  const peakRssMb = peakMb();
  await engine.unload(info.handle);
  return { kind: 'memory', ...prompt, prefillMs: s.prefillMs, decodeTps: tps(s.tokens, s.decodeMs), rssAt, peakRssMb };
}

async function threadsJob(job: ThreadsJob): Promise<ThreadsResult> {
  const bytes = new Uint8Array(fs.readFileSync(job.image));
  const base: GenerateRequest = {
    image: { kind: 'encoded', bytes },
    question: job.question,
    maxNewTokens: job.tokens,
    minNewTokens: job.tokens,
  };
  const engines = await Promise.all(
    job.threads.map(async (t) => {
      const engine = createNodeEngine({ threads: t });
      const info = await engine.load({ kind: 'path', path: job.model }, { dtype: DTYPE(job.dtype) });
      return { t, engine, info };
    }),
  );
  const runs: Record<string, VariantFigures[]> = {};
  let imageTokens: number | undefined;
  for (const e of engines)
    await ours(e.engine, e.info, base, [e.info.attentionLayers.at(-1)!], (p) => (imageTokens = p.imageSpan.length));
  for (let r = 0; r < job.rounds; r++) {
    const order = r % 2 ? [...engines].reverse() : engines;
    for (const e of order)
      (runs[e.t] ??= []).push(await ours(e.engine, e.info, base, [e.info.attentionLayers.at(-1)!]));
  }
  for (const e of engines) await e.engine.unload(e.info.handle);
  const byThreads: ThreadsResult['byThreads'] = {};
  for (const [t, xs] of Object.entries(runs)) {
    byThreads[t] = {
      prefillMs: median(xs.map((x) => x.prefillMs)),
      decodeTps: median(xs.map((x) => x.decodeTps)),
      rounds: xs.map((x) => ({ prefillMs: x.prefillMs, decodeTps: x.decodeTps })),
    };
  }
  return { kind: 'threads', imageTokens, byThreads };
}

/** Runs one job. */
export function runJob(job: ScaleJob): Promise<ScaleResult> {
  switch (job.kind) {
    case 'decode':
      return decodeJob(job);
    case 'memory':
      return memoryJob(job);
    case 'threads':
      return threadsJob(job);
  }
}

if (process.argv[1] && import.meta.filename === fs.realpathSync(process.argv[1])) {
  const job = JSON.parse(process.argv[2]) as ScaleJob;
  runJob(job).then(
    (r) => console.log(`SCALE_RESULT ${JSON.stringify(r)}`),
    (e) => {
      console.error(e?.stack ?? String(e));
      process.exitCode = 1;
    },
  );
}
