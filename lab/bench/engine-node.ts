/**
 * @file Engine benchmark in Node (onnxruntime-node, native CPU): decode tokens/s with and without attention capture
 * in the same process (interleaved ABBA runs, median), first-token latency cold (first answer after loading) and warm,
 * and peak RSS. Prints nothing; lab/bench/engine.ts prints.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createNodeEngine } from '../../src/engine/node.ts';
import type { GenerateRequest, RunSummary } from '../../src/engine/types.ts';
import { type DecodeFigures, decodeTps as tps, median } from '../support/stats.ts';

/** Figures measured in Node. */
export interface NodeBench extends DecodeFigures {
  model: string;
  tokens: number;
  loadMs: number;
}

/** Decode tokens per second of one run (the prefill step excluded). */
export function decodeTps(s: RunSummary): number {
  return tps(s.tokens, s.decodeMs);
}

/** Share of a run's time spent in the capture code. */
export function captureShare(s: RunSummary): number {
  return (s.captureMs ?? NaN) / (s.prefillMs + s.decodeMs);
}

/** Runs the Node benchmark on a registry model. */
export async function benchNode(opts: {
  model: string;
  image: string;
  question: string;
  tokens: number;
  repeats: number;
}): Promise<NodeBench> {
  const engine = createNodeEngine();
  const t0 = performance.now();
  const info = await engine.load({ kind: 'registry', id: opts.model });
  const loadMs = performance.now() - t0;
  const image = { kind: 'encoded' as const, bytes: new Uint8Array(fs.readFileSync(path.resolve(opts.image))) };
  const base: GenerateRequest = {
    image,
    question: opts.question,
    maxNewTokens: opts.tokens,
    minNewTokens: opts.tokens,
  };
  const firstToken = async () => {
    const start = performance.now();
    let first = NaN;
    await engine.generate(
      info.handle,
      { ...base, maxNewTokens: 1 },
      { onStep: () => (first = performance.now() - start) },
    );
    return first;
  };
  const firstTokenColdMs = await firstToken();
  const firstTokenWarmMs = median([await firstToken(), await firstToken(), await firstToken()]);
  const withCapture: number[] = [];
  const without: number[] = [];
  const shares: number[] = [];
  // ABBA order: neither variant always runs first (warm-up and machine load drift cancel out).
  for (let i = 0; i < opts.repeats; i++) {
    for (const capture of i % 2 ? [false, true] : [true, false]) {
      const s = await engine.generate(info.handle, capture ? base : { ...base, captureLayers: [] }, {
        onStep: () => undefined,
      });
      (capture ? withCapture : without).push(decodeTps(s));
      if (capture) shares.push(captureShare(s));
    }
  }
  await engine.unload(info.handle);
  return {
    model: info.name,
    tokens: opts.tokens,
    loadMs,
    firstTokenColdMs,
    firstTokenWarmMs,
    decodeTpsCapture: median(withCapture),
    decodeTpsNoCapture: median(without),
    captureShare: median(shares),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}
