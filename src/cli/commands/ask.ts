/**
 * @file `sayo ask`: one greedy answer from one model with per-token entropy, a, v, R_a (with boxes) and the SAYO
 * reward r_v over the top-30 % entropy tokens; `--json` prints every figure. The embedded pair on a picture unlike
 * the ones it was trained on comes with the notice the app shows.
 */
import type { Command } from 'commander';
import { attentionScores } from '../../core/metrics.ts';
import type { Box } from '../../core/geometry.ts';
import { INPUT_LIMITS } from '../../core/limits.ts';
import { createNodeEngine } from '../../engine/node.ts';
import { CliError } from '../lib/errors.ts';
import { folderOf } from '../lib/eval-run.ts';
import { engineFailure, modelSource, readImage } from '../lib/model-arg.ts';
import { embeddedNotice } from '../lib/pair-notice.ts';
import { preflightPrompt } from '../lib/prompt-box.ts';
import { METRIC_MAX_NEW_TOKENS, runSample } from '../lib/run-sample.ts';
import { fmt, renderTable } from '../lib/table.ts';

interface Options {
  model: string;
  image: string;
  question: string;
  boxes?: string[];
  json?: boolean;
  maxNewTokens: string;
}

/** A plain decimal number ("12", "-3.5", "1e2"); not "", not "0x10", not "Infinity". */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Parse `x1,y1,x2,y2` boxes (four plain decimal numbers each); throws CliError naming the bad one. */
export function parseBoxes(specs: string[] = []): Box[] {
  if (specs.length > INPUT_LIMITS.maxBoxes)
    throw new CliError(`--boxes: ${specs.length} boxes, more than ${INPUT_LIMITS.maxBoxes} (size limit)`);
  return specs.map((spec) => {
    const parts = spec.split(',').map((s) => s.trim());
    if (parts.length !== 4 || !parts.every((p) => DECIMAL.test(p))) {
      throw new CliError(
        `--boxes: "${spec}" is not x1,y1,x2,y2 (accepted: four decimal numbers separated by commas, e.g. 10,20,110,90)`,
      );
    }
    const v = parts.map(Number);
    if (!v.every(Number.isFinite)) throw new CliError(`--boxes: "${spec}" has a number too large to use`);
    if (v[2] <= v[0] || v[3] <= v[1]) throw new CliError(`--boxes: "${spec}" needs x1 < x2 and y1 < y2`);
    return v as Box;
  });
}

async function ask(options: Options): Promise<void> {
  const boxes = parseBoxes(options.boxes);
  const maxNewTokens = Number(options.maxNewTokens);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1)
    throw new CliError(`--max-new-tokens must be a positive integer, not "${options.maxNewTokens}"`);
  const source = modelSource(options.model);
  const image = readImage(options.image);
  await preflightPrompt(folderOf(source), options.question, options.model);
  const notice = embeddedNotice(source, options.image);
  const engine = createNodeEngine();
  const info = await engine.load(source).catch((e) => Promise.reject(engineFailure(`cannot load ${options.model}`, e)));
  try {
    const run = await runSample(engine, info, image, options.question, boxes, maxNewTokens).catch((e) =>
      Promise.reject(engineFailure('generation failed', e)),
    );
    // Said once there is an answer (an unreadable picture gets its one error line alone), on stderr before the
    // answer, so it is seen first and never mixes into --json or a piped table.
    if (notice) process.stderr.write(notice + '\n');
    const layer = info.numLayers - 1;
    const scores = attentionScores(run.steps, layer, run.targets);
    const reward = scores?.reward ?? null;
    const tokens = run.steps.map((s, i) => ({
      index: s.index,
      tokenId: s.tokenId,
      text: s.text,
      entropy: s.entropy,
      imageShare: scores?.imageShares[i] ?? null,
      a: reward?.perToken[i].a ?? null,
      v: reward?.perToken[i].v ?? null,
      R_a: reward?.perToken[i].R_a ?? null,
      selected: reward ? reward.selected.includes(i) : null,
    }));
    const meanRa = reward ? reward.perToken.reduce((acc, t) => acc + t.R_a, 0) / reward.perToken.length : null;
    const tokensPerSecond = run.summary.tokens / (run.ms / 1000);
    if (options.json) {
      const out = {
        model: info.name,
        question: options.question,
        text: run.summary.text,
        stoppedBy: run.summary.stoppedBy,
        layer: scores ? layer : null,
        grid: { rows: run.grid.rows, cols: run.grid.cols, cell: run.grid.cell },
        boxes,
        targets: Array.from(run.targets),
        tokens,
        reward: reward
          ? { a_q: reward.a_q, v_q: reward.v_q, r_v: reward.r_v, selected: reward.selected, meanRa }
          : null,
        peakToken: scores?.peakToken ?? null,
        timing: { prefillMs: run.summary.prefillMs, decodeMs: run.summary.decodeMs, totalMs: run.ms, tokensPerSecond },
        attentionNote: info.attentionNote ?? null,
        architectureNote: info.architectureNote ?? null,
        notice,
      };
      if (info.architectureNote) process.stderr.write(`sayo: ${options.model}: ${info.architectureNote}\n`);
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return;
    }
    const rows = [['#', 'token', 'entropy', 'image share', 'a', 'v', 'R_a', 'top-30%']];
    for (const t of tokens) {
      rows.push([
        String(t.index),
        JSON.stringify(t.text),
        fmt(t.entropy),
        fmt(t.imageShare),
        fmt(t.a, 4),
        fmt(t.v, 4),
        fmt(t.R_a),
        t.selected ? '*' : '',
      ]);
    }
    const lines = [`${info.name}: ${run.summary.text}`, '', renderTable(rows)];
    if (info.architectureNote) lines.unshift(`note: ${info.architectureNote}`, '');
    if (reward)
      lines.push(
        `r_v = ${fmt(reward.r_v, 4)}  (a_q ${fmt(reward.a_q, 5)}, v_q ${fmt(reward.v_q, 5)}, ${reward.selected.length} of ${tokens.length} tokens)   mean R_a = ${fmt(meanRa, 4)}`,
      );
    else if (!scores) lines.push(info.attentionNote ?? `layer ${layer} was not captured`);
    else lines.push('no --boxes: a, v, R_a and r_v need a key region');
    lines.push(
      `${run.summary.tokens} tokens in ${(run.ms / 1000).toFixed(2)} s (${tokensPerSecond.toFixed(1)} tokens/s), grid ${run.grid.cols}×${run.grid.rows} cells (w×h), layer ${layer}`,
    );
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await engine.unload(info.handle);
  }
}

/** Register the command on `program`. */
export function register(program: Command): void {
  program
    .command('ask')
    .description('answer one question about one image, with per-token region attention and the SAYO reward')
    .requiredOption('--model <model>', 'model folder or registry id (e.g. sayo-mini)')
    .requiredOption('--image <file>', 'image file (PNG, JPEG, WebP)')
    .requiredOption('--question <text>', 'the question')
    .option('--boxes <box...>', 'key regions x1,y1,x2,y2 in original image pixels (one or more)')
    .option('--max-new-tokens <n>', 'generation budget', String(METRIC_MAX_NEW_TOKENS))
    .option('--json', 'print tokens, entropies, per-token a / v / R_a and the reward as JSON')
    .action(ask);
}
