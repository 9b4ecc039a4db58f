/**
 * @file `sayo eval`: greedy answers of one or more models over a JSONL set with boxes; prints a table per model
 * (accuracy, mean R_a, mean r_v, mean image share, pointing-game hit rate, tokens/s end to end: generated tokens
 * over the wall time of the whole answer, image decoding and vision encoder included); with two or more models also
 * each model's figures teacher-forced on its partner's answer (tf_* columns) and the paired differences on identical
 * text. Writes results.json, results.csv and plot.svg to --out, and with --sessions a lens session file per kept
 * question (lib/sessions.ts). A rerun with the same --out resumes (see lib/eval-run.ts).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { datasetMeans, type DatasetMeans } from '../../core/metrics.ts';
import { createNodeEngine } from '../../engine/node.ts';
import { toCsv } from '../lib/csv.ts';
import { CliError } from '../lib/errors.ts';
import { fingerprint, partnerOf, runEval, type ModelResult } from '../lib/eval-run.ts';
import { readEvalSet } from '../lib/jsonl.ts';
import { modelSource } from '../lib/model-arg.ts';
import { renderPlot } from '../lib/plot.ts';
import { parseKeep, selectLines, writeSessions } from '../lib/sessions.ts';
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
  sessions?: string;
  keep: string;
}

/** A model's dataset figures plus speed, and its figures teacher-forced on its partner's answers. */
export interface ModelSummary extends DatasetMeans {
  model: string;
  name: string;
  tokensPerSecond: number | null;
  resumed: number;
  /** Means of the tf_* columns: this model teacher-forced on `on`'s greedy answers (null with one model). */
  teacherForced: {
    on: string;
    onName: string;
    samples: number;
    R_a: number | null;
    r_v: number | null;
    imageShare: number | null;
    pointingHit: number | null;
  } | null;
}

/** A paired difference on identical text: mean and standard error over the samples having both figures. */
export interface PairedFigure {
  n: number;
  mean: number | null;
  se: number | null;
}

/**
 * Two models on the same answer text (one model's own greedy answer, the other teacher-forced on it): `minus`'s
 * figure subtracted from `model`'s, per sample, where `model` is a later --model and `minus` the first.
 */
export interface PairedDifference {
  /** Whose answer text both were scored on. */
  textOf: string;
  model: string;
  minus: string;
  R_a: PairedFigure;
  r_v: PairedFigure;
  imageShare: PairedFigure;
}

/** The files eval writes in --out. */
const OUTPUTS = ['results.json', 'results.csv', 'plot.svg', 'progress.jsonl'];

const CSV_COLUMNS = [
  'model',
  'modelName',
  'line',
  'image',
  'question',
  'answer',
  'prediction',
  'correct',
  'tokens',
  'stoppedBy',
  'R_a',
  'r_v',
  'imageShare',
  'pointingHit',
  'tf_on',
  'tf_tokens',
  'tf_R_a',
  'tf_r_v',
  'tf_imageShare',
  'tf_pointingHit',
  'ms',
  'prefillMs',
  'decodeMs',
  'session',
  'text',
];

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive integer, not "${value}"`);
  return n;
}

/** Dataset figures of one model's rows (`results`: every model, to name the teacher-forcing partner). */
export function summarize(result: ModelResult, index: number, results: ModelResult[]): ModelSummary {
  const tokens = result.rows.reduce((acc, r) => acc + r.tokens, 0);
  const seconds = result.rows.reduce((acc, r) => acc + r.ms, 0) / 1000;
  const p = partnerOf(index, results.length);
  let teacherForced: ModelSummary['teacherForced'] = null;
  if (p >= 0) {
    const forced = result.rows.filter((r) => r.tf_on !== null);
    const means = datasetMeans(
      forced.map((r) => ({
        correct: false,
        R_a: r.tf_R_a,
        r_v: r.tf_r_v,
        imageShare: r.tf_imageShare,
        pointingHit: r.tf_pointingHit,
      })),
    );
    teacherForced = {
      on: results[p].model.spec,
      onName: results[p].name,
      samples: forced.length,
      R_a: means.R_a,
      r_v: means.r_v,
      imageShare: means.imageShare,
      pointingHit: means.pointingHit,
    };
  }
  return {
    model: result.model.spec,
    name: result.name,
    ...datasetMeans(result.rows),
    tokensPerSecond: seconds > 0 ? tokens / seconds : null,
    resumed: result.resumed,
    teacherForced,
  };
}

function paired(values: Array<[number | null, number | null]>): PairedFigure {
  const d = values.filter((v): v is [number, number] => v[0] !== null && v[1] !== null).map(([a, b]) => a - b);
  if (d.length === 0) return { n: 0, mean: null, se: null };
  const mean = d.reduce((acc, v) => acc + v, 0) / d.length;
  const sd = d.length > 1 ? Math.sqrt(d.reduce((acc, v) => acc + (v - mean) ** 2, 0) / (d.length - 1)) : null;
  return { n: d.length, mean, se: sd === null ? null : sd / Math.sqrt(d.length) };
}

/**
 * Every later model against the first on identical text: on the first model's answers (its own figures vs the later
 * model teacher-forced on them), and on the second model's answers (its own vs the first teacher-forced on them).
 */
export function pairedDifferences(results: ModelResult[]): PairedDifference[] {
  if (results.length < 2) return [];
  const [first] = results;
  const byLine = (r: ModelResult) => new Map(r.rows.map((row) => [row.line, row]));
  const firstRows = byLine(first);
  const out: PairedDifference[] = [];
  const pair = (
    textOf: ModelResult,
    model: ModelResult,
    lines: Array<[number | null, number | null][]>,
  ): PairedDifference => ({
    textOf: textOf.name,
    model: model.name,
    minus: first.name,
    R_a: paired(lines[0]),
    r_v: paired(lines[1]),
    imageShare: paired(lines[2]),
  });
  for (const model of results.slice(1)) {
    // Text of the first model: the later model teacher-forced (tf_*) minus the first model's own figures.
    const own = model.rows.filter((r) => r.tf_on === first.model.spec && firstRows.has(r.line));
    const keys = ['R_a', 'r_v', 'imageShare'] as const;
    out.push(
      pair(
        first,
        model,
        keys.map((k) => own.map((r) => [r[`tf_${k}`], firstRows.get(r.line)![k]] as [number | null, number | null])),
      ),
    );
  }
  // Text of the second model: its own figures minus the first model teacher-forced on them.
  const second = results[1];
  const forced = first.rows.filter((r) => r.tf_on === second.model.spec);
  const secondRows = byLine(second);
  const keys = ['R_a', 'r_v', 'imageShare'] as const;
  const rows = forced.filter((r) => secondRows.has(r.line));
  out.push(
    pair(
      second,
      second,
      keys.map((k) => rows.map((r) => [secondRows.get(r.line)![k], r[`tf_${k}`]] as [number | null, number | null])),
    ),
  );
  return out;
}

/** The summary table printed on stdout (with teacher-forced columns when there are two or more models). */
export function summaryTable(summaries: ModelSummary[]): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  const forced = summaries.some((s) => s.teacherForced);
  const header = ['model', 'samples', 'accuracy', 'mean R_a', 'mean r_v', 'image share', 'pointing hit', 'tokens/s'];
  const rows = [forced ? [...header, 'tf on', 'tf R_a', 'tf r_v', 'tf image share', 'tf pointing'] : header];
  for (const s of summaries) {
    const row = [
      s.name,
      String(s.samples),
      pct(s.samples > 0 ? s.accuracy : null),
      fmt(s.R_a),
      fmt(s.r_v),
      fmt(s.imageShare),
      pct(s.pointingHit),
      fmt(s.tokensPerSecond, 1),
    ];
    const tf = s.teacherForced;
    if (forced)
      row.push(
        tf ? `${tf.onName}'s answers` : 'n/a',
        fmt(tf?.R_a ?? null),
        fmt(tf?.r_v ?? null),
        fmt(tf?.imageShare ?? null),
        pct(tf?.pointingHit ?? null),
      );
    rows.push(row);
  }
  const legend = forced
    ? "tf: teacher-forced on the other model's greedy answer text (the same tokens, scored by this model)\n"
    : '';
  return renderTable(rows) + legend;
}

/** The paired differences as printed lines ("" with one model). */
export function pairedTable(diffs: PairedDifference[]): string {
  if (diffs.length === 0) return '';
  const cell = (f: PairedFigure) =>
    f.mean === null ? 'n/a' : `${f.mean >= 0 ? '+' : ''}${fmt(f.mean, 4)} ± ${f.se === null ? 'n/a' : fmt(f.se, 4)}`;
  const rows = [['on the answers of', 'difference', 'n', 'Δ R_a ± SE', 'Δ r_v ± SE', 'Δ image share ± SE']];
  for (const d of diffs)
    rows.push([d.textOf, `${d.model} − ${d.minus}`, String(d.R_a.n), cell(d.R_a), cell(d.r_v), cell(d.imageShare)]);
  return (
    "Paired differences on identical text (one model's own answer, the other teacher-forced on it):\n" +
    renderTable(rows)
  );
}

async function evaluate(options: Options): Promise<void> {
  if (!options.model || options.model.length === 0) throw new CliError('give at least one --model');
  const maxNewTokens = positiveInt(options.maxNewTokens, '--max-new-tokens');
  const limit = options.limit === undefined ? Infinity : positiveInt(options.limit, '--limit');
  const models = options.model.map((spec) => {
    const source = modelSource(spec);
    return { spec, source, fingerprint: fingerprint(source) };
  });
  const keep = parseKeep(options.keep);
  if (keep.kind === 'diff' && models.length < 2)
    throw new CliError('--keep diff:N compares two models: give two --model');
  const { records, problems } = readEvalSet(options.data);
  for (const p of problems) process.stderr.write(`sayo: ${options.data} line ${p.line}: ${p.message} (skipped)\n`);
  const chosen = records.slice(0, limit);
  if (chosen.length === 0) throw new CliError(`${options.data} has no usable record`);
  prepareOutputDir(options.out, OUTPUTS);
  const progress = createProgress(models.length * chosen.length * (models.length > 1 ? 2 : 1));
  const started = performance.now();
  let results: ModelResult[];
  try {
    results = await runEval({
      engine: createNodeEngine(),
      models,
      records: chosen,
      maxNewTokens,
      progressFile: path.join(options.out, 'progress.jsonl'),
      progress,
    });
  } finally {
    progress.stop();
  }
  const sessionFiles = new Map<number, string>();
  if (options.sessions) {
    const lines = selectLines(keep, results);
    const sessionProgress = createProgress(lines.length);
    try {
      const written = await writeSessions({
        engine: createNodeEngine(),
        results,
        records: chosen,
        lines,
        dir: options.sessions,
        progress: sessionProgress,
      });
      for (const [line, file] of written) sessionFiles.set(line, file);
    } finally {
      sessionProgress.stop();
    }
  }
  // Every row names its question's session file, relative to --out (null without one).
  for (const r of results)
    for (const row of r.rows)
      row.session = sessionFiles.has(row.line) ? path.relative(options.out, sessionFiles.get(row.line)!) : null;
  const seconds = (performance.now() - started) / 1000;
  const summaries = results.map(summarize);
  const differences = pairedDifferences(results);
  const rows = results.flatMap((r) => r.rows);
  // Skipped: unusable lines of the set, and records a model could not answer (missing or undecodable image, …).
  const skipped = [
    ...problems.map((p) => ({ line: p.line, model: null as string | null, reason: p.message })),
    ...results.flatMap((r) =>
      r.skipped.map((s) => ({ line: s.line, model: r.model.spec as string | null, reason: s.reason })),
    ),
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
  writeFileAtomic(
    path.join(options.out, 'results.json'),
    JSON.stringify({ ...meta, models: summaries, paired: differences, rows }, null, 2) + '\n',
  );
  writeFileAtomic(
    path.join(options.out, 'results.csv'),
    toCsv(CSV_COLUMNS, rows as unknown as Array<Record<string, unknown>>),
  );
  const plotModels = results.map((r, i) => ({
    name: r.name,
    accuracy: summaries[i].accuracy,
    meanRa: summaries[i].R_a,
    samples: r.rows,
  }));
  writeFileAtomic(
    path.join(options.out, 'plot.svg'),
    renderPlot(plotModels, `${path.basename(options.data)}: ${meta.samples} samples, greedy, last layer`),
  );
  const resumed = summaries.reduce((acc, s) => acc + s.resumed, 0);
  process.stdout.write(summaryTable(summaries));
  process.stdout.write(pairedTable(differences));
  const sessionNote = options.sessions
    ? `; ${sessionFiles.size} session files (--keep ${options.keep}) in ${options.sessions}`
    : '';
  process.stdout.write(
    `${rows.length} rows (${resumed} resumed) in ${seconds.toFixed(1)} s; wrote ${['results.json', 'results.csv', 'plot.svg'].map((f) => path.join(options.out, f)).join(', ')}${sessionNote}\n`,
  );
}

/** Register the command on `program`. */
export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate models over a JSONL set with boxes: accuracy, R_a, r_v, image share, pointing game, speed')
    .option(
      '--model <model>',
      'model folder or registry id (repeat for several)',
      (v: string, acc: string[] | undefined) => [...(acc ?? []), v],
    )
    .requiredOption(
      '--data <file>',
      'JSONL set: {"image", "question", "answer", "boxes"} per line, images relative to it',
    )
    .option('--out <dir>', 'output folder (a rerun with the same folder resumes)', 'sayo-eval')
    .option('--limit <n>', 'evaluate only the first n records')
    .option('--max-new-tokens <n>', 'generation budget (the contract metrics use 24)', String(METRIC_MAX_NEW_TOKENS))
    .option('--sessions <dir>', 'write a session file per kept question (the lens imports it, no model needed)')
    .option(
      '--keep <which>',
      'sessions to write: all, worst:N (lowest R_a of the last --model), diff:N (largest |Δ R_a| on identical text)',
      'all',
    )
    .action(evaluate);
}
