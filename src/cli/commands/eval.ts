/**
 * @file `sayo eval`: greedy answers of one or more models over a JSONL set with boxes; prints a table per model
 * (accuracy, mean R_a, mean r_v, mean image share, pointing-game hit rate, tokens/s end to end: generated tokens
 * over the wall time of the whole answer, image decoding and vision encoder included) and writes results.json,
 * results.csv and plot.svg to --out. A rerun with the same --out resumes (see lib/eval-run.ts).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { datasetMeans, type DatasetMeans } from '../../core/metrics.ts';
import { createNodeEngine } from '../../engine/node.ts';
import { toCsv } from '../lib/csv.ts';
import { CliError } from '../lib/errors.ts';
import { fingerprint, runEval, type ModelResult } from '../lib/eval-run.ts';
import { readEvalSet } from '../lib/jsonl.ts';
import { modelSource } from '../lib/model-arg.ts';
import { renderPlot } from '../lib/plot.ts';
import { createProgress } from '../lib/progress.ts';
import { prepareOutputDir, writeFileAtomic } from '../lib/write-file.ts';
import { METRIC_MAX_NEW_TOKENS } from '../lib/run-sample.ts';
import { fmt, renderTable } from '../lib/table.ts';

interface Options {
  model?: string[];
  data: string;
  out: string;
  limit?: string;
  maxNewTokens: string;
}

/** A model's dataset figures plus speed. */
export interface ModelSummary extends DatasetMeans {
  model: string;
  name: string;
  tokensPerSecond: number | null;
  resumed: number;
}

/** The files eval writes in --out. */
const OUTPUTS = ['results.json', 'results.csv', 'plot.svg', 'progress.jsonl'];

const CSV_COLUMNS = ['model', 'modelName', 'line', 'image', 'question', 'answer', 'prediction', 'correct', 'tokens', 'stoppedBy', 'R_a', 'r_v', 'imageShare', 'pointingHit', 'ms', 'prefillMs', 'decodeMs', 'text'];

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive integer, not "${value}"`);
  return n;
}

/** Dataset figures of one model's rows. */
export function summarize(result: ModelResult): ModelSummary {
  const tokens = result.rows.reduce((acc, r) => acc + r.tokens, 0);
  const seconds = result.rows.reduce((acc, r) => acc + r.ms, 0) / 1000;
  return { model: result.model.spec, name: result.name, ...datasetMeans(result.rows), tokensPerSecond: seconds > 0 ? tokens / seconds : null, resumed: result.resumed };
}

/** The summary table printed on stdout. */
export function summaryTable(summaries: ModelSummary[]): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  const rows = [['model', 'samples', 'accuracy', 'mean R_a', 'mean r_v', 'image share', 'pointing hit', 'tokens/s']];
  for (const s of summaries) {
    rows.push([s.name, String(s.samples), pct(s.samples > 0 ? s.accuracy : null), fmt(s.R_a), fmt(s.r_v), fmt(s.imageShare), pct(s.pointingHit), fmt(s.tokensPerSecond, 1)]);
  }
  return renderTable(rows);
}

async function evaluate(options: Options): Promise<void> {
  if (!options.model || options.model.length === 0) throw new CliError('give at least one --model');
  const maxNewTokens = positiveInt(options.maxNewTokens, '--max-new-tokens');
  const limit = options.limit === undefined ? Infinity : positiveInt(options.limit, '--limit');
  const models = options.model.map((spec) => {
    const source = modelSource(spec);
    return { spec, source, fingerprint: fingerprint(source) };
  });
  const { records, problems } = readEvalSet(options.data);
  for (const p of problems) process.stderr.write(`sayo: ${options.data} line ${p.line}: ${p.message} (skipped)\n`);
  const chosen = records.slice(0, limit);
  if (chosen.length === 0) throw new CliError(`${options.data} has no usable record`);
  prepareOutputDir(options.out, OUTPUTS);
  const progress = createProgress(models.length * chosen.length);
  const started = performance.now();
  let results: ModelResult[];
  try {
    results = await runEval({ engine: createNodeEngine(), models, records: chosen, maxNewTokens, progressFile: path.join(options.out, 'progress.jsonl'), progress });
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const summaries = results.map(summarize);
  const rows = results.flatMap((r) => r.rows);
  // Skipped: unusable lines of the set, and records a model could not answer (missing or undecodable image, …).
  const skipped = [
    ...problems.map((p) => ({ line: p.line, model: null as string | null, reason: p.message })),
    ...results.flatMap((r) => r.skipped.map((s) => ({ line: s.line, model: r.model.spec as string | null, reason: s.reason }))),
  ].sort((a, b) => a.line - b.line);
  const meta = {
    data: path.resolve(options.data),
    records: chosen.length,
    samples: new Set(rows.map((r) => r.line)).size,
    skippedLines: [...new Set(skipped.map((s) => s.line))],
    skipped,
    maxNewTokens,
    layer: 'last',
    seconds,
  };
  writeFileAtomic(path.join(options.out, 'results.json'), JSON.stringify({ ...meta, models: summaries, rows }, null, 2) + '\n');
  writeFileAtomic(path.join(options.out, 'results.csv'), toCsv(CSV_COLUMNS, rows as unknown as Array<Record<string, unknown>>));
  const plotModels = results.map((r, i) => ({ name: r.name, accuracy: summaries[i].accuracy, meanRa: summaries[i].R_a, samples: r.rows }));
  writeFileAtomic(path.join(options.out, 'plot.svg'), renderPlot(plotModels, `${path.basename(options.data)}: ${meta.samples} samples, greedy, last layer`));
  const resumed = summaries.reduce((acc, s) => acc + s.resumed, 0);
  process.stdout.write(summaryTable(summaries));
  process.stdout.write(`${rows.length} rows (${resumed} resumed) in ${seconds.toFixed(1)} s; wrote ${['results.json', 'results.csv', 'plot.svg'].map((f) => path.join(options.out, f)).join(', ')}\n`);
}

/** Register the command on `program`. */
export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate models over a JSONL set with boxes: accuracy, R_a, r_v, image share, pointing game, speed')
    .option('--model <model>', 'model folder or registry id (repeat for several)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .requiredOption('--data <file>', 'JSONL set: {"image", "question", "answer", "boxes"} per line, images relative to it')
    .option('--out <dir>', 'output folder (a rerun with the same folder resumes)', 'sayo-eval')
    .option('--limit <n>', 'evaluate only the first n records')
    .option('--max-new-tokens <n>', 'generation budget (the contract metrics use 24)', String(METRIC_MAX_NEW_TOKENS))
    .action(evaluate);
}
