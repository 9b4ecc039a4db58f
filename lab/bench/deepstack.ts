/**
 * @file `npm run bench -- --deepstack`: what DeepStack costs. On the ladder's ds150m rung (Qwen3-VL with DeepStack at
 * SAYO-Qwen-8B's proportions, built by `python -m sayo_train ladder --rungs ds150m`) and its twin (the same weights
 * without the DeepStack mergers), in Node (onnxruntime-node), each capturing the last layer:
 * - decode tokens/s and prefill ms, the two interleaved round by round in one process (lab/bench/scale-node.ts, variants
 *   `last` and `twin`), at each image size;
 * - peak RSS of one forced-length answer, each in a process of its own.
 * Printed with the ratios and the aims (decode ≤ 3 % slower, memory ≤ 1.05×), never asserted; `--json FILE` saves it.
 * Options: `npm run bench -- --deepstack --help`.
 */
import fs from 'node:fs';
import { ensureLadder, images, QUESTION } from './ladder.ts';
import { f, load } from './report.ts';
import { nodeJob } from './run.ts';
import type { DecodeResult, MemoryResult } from './scale-node.ts';

/** Square images for 32 px cells: 10² = 100, 20² = 400, 32² = 1,024 image tokens. */
const SIDES: Record<string, number> = { '100': 320, '400': 640, '1024': 1024 };

export interface DeepstackRow {
  images: string;
  decode: DecodeResult | { error: string };
  memory: { deepstack: MemoryResult | { error: string }; twin: MemoryResult | { error: string } };
  loadBefore: string;
  loadAfter: string;
}

/** The options of a DeepStack run, as the command line gives them (lab/bench/cli.ts has their help). */
export interface DeepstackOptions {
  tokens: number;
  rounds: number;
  threads: number;
  images: string;
  json?: string;
  verbose?: boolean;
}

/** Image-token counts a DeepStack run accepts. */
export const DEEPSTACK_IMAGES = Object.keys(SIDES);

/** Runs the DeepStack benchmark and prints it; returns the exit code. */
export async function runDeepstack({
  tokens,
  rounds,
  threads,
  images: asked,
  json,
  verbose,
}: DeepstackOptions): Promise<number> {
  const labels = asked.split(',');
  for (const k of labels)
    if (!(k in SIDES)) throw new Error(`--images ${k}: image-token counts are ${Object.keys(SIDES).join(', ')}`);
  const [e] = ensureLadder(['ds150m'], { verbose });
  if (!e.twin)
    throw new Error(
      'the ds150m rung has no twin without DeepStack: rebuild it with python -m sayo_train ladder --rungs ds150m',
    );
  const img = await images(Object.fromEntries(labels.map((k) => [k, SIDES[k]])));
  const rows: DeepstackRow[] = [];
  for (const k of labels) {
    const loadBefore = load();
    const decode = await nodeJob<DecodeResult>({
      kind: 'decode',
      model: e.path,
      twin: e.twin,
      image: img[k],
      question: QUESTION,
      tokens,
      rounds,
      threads,
      variants: ['last', 'twin'],
      firstToken: false,
    });
    const mem = (model: string) =>
      nodeJob<MemoryResult>({
        kind: 'memory',
        model,
        image: img[k],
        question: QUESTION,
        tokens,
        threads,
        capture: 'last',
      });
    rows.push({
      images: k,
      decode,
      memory: { deepstack: await mem(e.path), twin: await mem(e.twin) },
      loadBefore,
      loadAfter: load(),
    });
  }
  console.log(
    `DeepStack cost on ${e.rung} (${f(e.params / 1e6)} M params, DeepStack ${JSON.stringify((e as { deepstack?: number[] }).deepstack)}) vs its twin without, Node, ${threads} thread(s), ${tokens} forced tokens, median of ${rounds} interleaved rounds`,
  );
  console.log(
    [
      'image tokens',
      'prefill ms with / without',
      'decode tok/s with / without',
      'decode slowdown (aim ≤ 3 %)',
      'rounds with ÷ without',
      'peak MB with / without',
      'ratio (aim ≤ 1.05×)',
      'load',
    ].join(' | '),
  );
  for (const r of rows) {
    if ('error' in r.decode) {
      console.log(`${r.images} | decode error: ${r.decode.error}`);
      continue;
    }
    const w = r.decode.variants.last!;
    const wo = r.decode.variants.twin!;
    const perRound = (w.roundsTps ?? []).map((x, i) => x / (wo.roundsTps ?? [])[i]);
    const mw = 'error' in r.memory.deepstack ? NaN : r.memory.deepstack.peakRssMb;
    const mwo = 'error' in r.memory.twin ? NaN : r.memory.twin.peakRssMb;
    console.log(
      [
        `${r.decode.imageTokens}`,
        `${f(w.prefillMs, 0)} / ${f(wo.prefillMs, 0)}`,
        `${f(w.decodeTps)} / ${f(wo.decodeTps)}`,
        `${f((1 - w.decodeTps / wo.decodeTps) * 100)} %`,
        `[${f(Math.min(...perRound), 3)}, ${f(Math.max(...perRound), 3)}]`,
        `${f(mw, 0)} / ${f(mwo, 0)}`,
        `${f(mw / mwo, 3)}×`,
        `${r.loadBefore} → ${r.loadAfter}`,
      ].join(' | '),
    );
  }
  if (json)
    fs.writeFileSync(
      json,
      JSON.stringify({ when: new Date().toISOString(), rung: e, tokens, rounds, threads, rows }, null, 1) + '\n',
    );
  return 0;
}
