/**
 * @file What one scale run measured (the report `--json FILE` writes and `--print FILE` reads) and the number
 * formatting its tables share.
 */
import os from 'node:os';
import type { BrowserScaleResult } from './scale-browser.ts';
import type { LadderEntry } from './ladder.ts';
import type { DecodeResult, MemoryResult, Precision, ThreadsResult } from './scale-node.ts';

/** A job that failed: its reason instead of figures. */
export const isErr = (x: unknown): x is { error: string } =>
  typeof x === 'object' && x !== null && 'error' in x && typeof (x as { error: unknown }).error === 'string';
/** The machine's load average now, as printed beside every table. */
export const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
/** A figure with `d` decimals, or n/a. */
export const f = (x: number | undefined, d = 1) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
/** Megabytes, rounded, or n/a. */
export const mb = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${Math.round(x)}` : 'n/a');

/** Everything one run measured (written with --json). */
export interface ScaleReport {
  date: string;
  machine: { cpus: string; cores: number; memGiB: number; node: string };
  loadBefore: number[];
  loadAfter?: number[];
  copyGBs: number;
  tokens: number;
  rounds: number;
  threads: number;
  rungs: Array<{
    entry: LadderEntry;
    dtype: Precision;
    label: string;
    weightBytes: number;
    node?: DecodeResult | { error: string };
    memory: Record<string, MemoryResult | { error: string }>;
    browser?: BrowserScaleResult;
    browserMemory: Record<string, BrowserScaleResult>;
    /** Peak memory at other image-token counts (`--images`): Node with and without capture, Chromium capturing. */
    atImages?: Record<string, { node: Record<string, MemoryResult | { error: string }>; browser?: BrowserScaleResult }>;
  }>;
  imageTokens: Array<{
    rung: string;
    tokens: string;
    node: DecodeResult | { error: string };
    memory: Record<string, MemoryResult | { error: string }>;
  }>;
  lengths: Array<{ rung: string; tokens: number; node: MemoryResult | { error: string } }>;
  threadsAB: Array<{ rung: string; result: ThreadsResult | { error: string } }>;
  /** The same A/B in Chromium (onnxruntime-web's WASM thread pool; one worker per thread count). */
  browserThreadsAB?: Array<{ rung: string; images: string; result: BrowserScaleResult }>;
  /** WebGPU rows in Chromium (`--webgpu`): the decode job on backend 'webgpu', `tokens` forced new tokens. */
  browserWebGpu?: Array<{ rung: string; label: string; tokens: number; result: BrowserScaleResult }>;
  /** Chromium sweeps at the mid rung: image tokens (decode last / none; tree peak capturing the last layer and
   * without: the noattn view, or the same graph with nothing fetched for a light rung) and generated lengths. */
  browserImageTokens?: Array<{
    rung: string;
    tokens: string;
    result: BrowserScaleResult;
    memory: Record<string, BrowserScaleResult>;
  }>;
  browserLengths?: Array<{ rung: string; tokens: number; result: BrowserScaleResult }>;
}

/** The load average at the end of the run (the tables are printed then). */
export const loadAt = (rep: ScaleReport) => rep.loadAfter?.map((x) => x.toFixed(2)).join(' ') ?? 'n/a';

/** A Chromium job's load average at its start → end. */
export const loadSpan = (r: BrowserScaleResult) =>
  r.load
    ? `${r.load.before.map((x) => x.toFixed(2)).join(' ')} → ${r.load.after.map((x) => x.toFixed(2)).join(' ')}`
    : 'n/a';
