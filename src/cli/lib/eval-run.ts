/**
 * @file The `sayo eval` loop: every model over every record, greedy, one result row per (model, record), appended
 * to `<out>/progress.jsonl` as soon as it exists so that a rerun with the same --out resumes. A row is reused only
 * when its key matches: the model's files (a hash of every file the answer depends on: the JSON configs and every
 * ONNX graph and weights file), the record's line and content, and the token budget. A torn last line (a kill
 * mid-append) is cut off before anything is appended, so it never swallows the next row. With two or more models a
 * second pass teacher-forces each model on its partner's answer (engine `score`, as the lens's cross-scoring); those
 * scores are appended too, keyed by the scorer's files and the partner row's key.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sampleMetrics } from '../../core/metrics.ts';
import { INPUT_LIMITS } from '../../core/limits.ts';
import { readRegularFile } from '../../engine/local-file.ts';
import { DEFAULT_MODELS_DIR } from '../../engine/node.ts';
import { crossAnswer } from '../../engine/cross.ts';
import { registryEntry } from '../../engine/registry.ts';
import { EngineError, type AttentionEngine, type ModelInfo, type ModelSource } from '../../engine/types.ts';
import { CliError, messageOf } from './errors.ts';
import type { EvalRecord } from './jsonl.ts';
import { engineFailure, readImage } from './model-arg.ts';
import type { Progress } from './progress.ts';
import { preflightPrompt } from './prompt-box.ts';
import { runSample, scoreSample } from './run-sample.ts';

/** One evaluated sample (a line of results.json / results.csv). */
export interface ResultRow {
  key: string;
  model: string;
  modelName: string;
  line: number;
  image: string;
  question: string;
  answer: string;
  prediction: string;
  text: string;
  correct: boolean;
  tokens: number;
  stoppedBy: string;
  R_a: number | null;
  r_v: number | null;
  imageShare: number | null;
  pointingHit: boolean | null;
  /** Wall time of the generation (image decoding, vision encoder, prefill, decode), ms. */
  ms: number;
  /** Engine timings: the first forward (prefill) and the remaining decode steps, ms. */
  prefillMs: number;
  decodeMs: number;
  /** The generated token ids (the end token included), what cross-scoring forces when the tokenizers agree. */
  tokenIds: number[];
}

/**
 * The same metrics with this model teacher-forced on its partner's greedy answer (engine `score`, the lens's
 * cross-scoring): the first model's partner is the second, every other model's partner is the first. Null when there
 * is one model or the partner has no row for the record.
 */
export interface TeacherForced {
  /** The partner model (its --model argument) whose answer text was forced. */
  tf_on: string | null;
  tf_tokens: number | null;
  tf_R_a: number | null;
  tf_r_v: number | null;
  tf_imageShare: number | null;
  tf_pointingHit: boolean | null;
}

/**
 * A row of results.json / results.csv: the model's own answer, its teacher-forced figures and the session file of
 * its question (`--sessions`; relative to --out, null without one).
 */
export type EvalRow = ResultRow & TeacherForced & { session?: string | null };

/** A teacher-forced score as progress.jsonl keeps it (key: the scorer's files and the partner row's key). */
interface TeacherForcedEntry extends Omit<TeacherForced, 'tf_on'> {
  kind: 'teacher-forced';
  key: string;
}

const NO_TF: TeacherForced = {
  tf_on: null,
  tf_tokens: null,
  tf_R_a: null,
  tf_r_v: null,
  tf_imageShare: null,
  tf_pointingHit: null,
};

/** Index of the model whose answers model `i` is teacher-forced on (-1 with one model). */
export function partnerOf(i: number, count: number): number {
  if (count < 2) return -1;
  return i === 0 ? 1 : 0;
}

/** A model to evaluate. */
export interface EvalModel {
  /** The --model argument as given. */
  spec: string;
  source: ModelSource;
  /** Hash of every file of the folder the answer depends on: rows of another export are not reused. */
  fingerprint: string;
}

/** Folder of a model source on disk. */
export function folderOf(source: ModelSource): string {
  if (source.kind === 'path') return source.path;
  if (source.kind === 'registry') return path.join(DEFAULT_MODELS_DIR, registryEntry(source.id)?.path ?? source.id);
  throw new CliError('only folders and embedded registry models can be evaluated in Node');
}

/** The files an answer depends on: every top-level JSON file (configs, tokenizer) and everything under onnx/. */
export function modelFiles(dir: string): string[] {
  const top = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  const onnxDir = path.join(dir, 'onnx');
  const onnx = fs.existsSync(onnxDir) ? fs.readdirSync(onnxDir).map((f) => `onnx/${f}`) : [];
  return [...top, ...onnx].filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

/** A short hash of the names and contents of {@link modelFiles} (read in chunks: weights may exceed 2 GB). */
export function fingerprint(source: ModelSource): string {
  const dir = folderOf(source);
  const hash = crypto.createHash('sha256');
  const chunk = Buffer.alloc(1 << 20);
  for (const file of modelFiles(dir)) {
    hash.update(`${file}\0`);
    const fd = fs.openSync(path.join(dir, file), 'r');
    try {
      for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0;) hash.update(chunk.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * A hash of the image file's bytes ("unreadable" when it cannot be read: the row then is recomputed and skipped with
 * the reader's own reason). Part of the resume key, so an image replaced under the same path is answered again.
 */
export function imageDigest(file: string): string {
  try {
    return crypto
      .createHash('sha256')
      .update(readRegularFile(file, INPUT_LIMITS.maxImageBytes))
      .digest('hex')
      .slice(0, 16);
  } catch {
    return 'unreadable';
  }
}

/** The resume key of a (model, record) pair: the model's files, the record and its image's bytes. */
export function rowKey(model: EvalModel, record: EvalRecord, maxNewTokens: number): string {
  const content = JSON.stringify([
    record.image,
    record.question,
    record.answer,
    record.boxes,
    imageDigest(record.imagePath),
  ]);
  const digest = crypto.createHash('sha256').update(content).digest('hex').slice(0, 12);
  return `${model.fingerprint}:${record.line}:${digest}:${maxNewTokens}`;
}

/** A complete row as runEval writes it (a partial or foreign line is recomputed, never reused). */
function isResultRow(r: unknown): r is ResultRow {
  const o = r as Record<string, unknown>;
  const types: Record<string, string> = {
    key: 'string',
    model: 'string',
    modelName: 'string',
    line: 'number',
    image: 'string',
    question: 'string',
    answer: 'string',
    prediction: 'string',
    text: 'string',
    correct: 'boolean',
    tokens: 'number',
    stoppedBy: 'string',
    ms: 'number',
    prefillMs: 'number',
    decodeMs: 'number',
  };
  if (!o || typeof o !== 'object') return false;
  if (!Object.entries(types).every(([k, t]) => typeof o[k] === t)) return false;
  if (!Array.isArray(o.tokenIds) || !o.tokenIds.every((t) => Number.isInteger(t))) return false;
  return (
    ['R_a', 'r_v', 'imageShare'].every((k) => o[k] === null || typeof o[k] === 'number') &&
    (o.pointingHit === null || typeof o.pointingHit === 'boolean')
  );
}

function isTeacherForcedEntry(r: unknown): r is TeacherForcedEntry {
  const o = r as Record<string, unknown>;
  if (
    !o ||
    typeof o !== 'object' ||
    o.kind !== 'teacher-forced' ||
    typeof o.key !== 'string' ||
    typeof o.tf_tokens !== 'number'
  )
    return false;
  return (
    ['tf_R_a', 'tf_r_v', 'tf_imageShare'].every((k) => o[k] === null || typeof o[k] === 'number') &&
    (o.tf_pointingHit === null || typeof o.tf_pointingHit === 'boolean')
  );
}

/** Teacher-forced scores already in `<out>/progress.jsonl`, by key (read after {@link loadProgress} repaired the file). */
function loadTeacherForced(file: string): Map<string, TeacherForcedEntry> {
  const entries = new Map<string, TeacherForcedEntry>();
  if (!fs.existsSync(file)) return entries;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    try {
      const entry = JSON.parse(line) as unknown;
      if (isTeacherForcedEntry(entry)) entries.set(entry.key, entry);
    } catch {
      continue;
    }
  }
  return entries;
}

/**
 * Rows already in `<out>/progress.jsonl`, by key (unreadable lines are ignored). A last line without its newline (cut
 * by a kill) is removed from the file, so the next appended row starts on a line of its own.
 */
export function loadProgress(file: string): Map<string, ResultRow> {
  const rows = new Map<string, ResultRow>();
  if (!fs.existsSync(file)) return rows;
  const text = fs.readFileSync(file, 'utf8');
  if (text.length > 0 && !text.endsWith('\n'))
    fs.truncateSync(file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
  for (const line of text.split('\n')) {
    try {
      const row = JSON.parse(line) as ResultRow;
      if (isResultRow(row)) rows.set(row.key, row);
    } catch {
      continue;
    }
  }
  return rows;
}

/** Everything the loop needs. */
export interface EvalJob {
  engine: AttentionEngine;
  models: EvalModel[];
  records: EvalRecord[];
  maxNewTokens: number;
  progressFile: string;
  progress: Progress;
}

/** A record a model could not answer, and why. */
export interface Skip {
  line: number;
  reason: string;
}

/** Per model: its display name, its rows in record order, the records skipped and how many rows were reused. */
export interface ModelResult {
  model: EvalModel;
  name: string;
  rows: EvalRow[];
  skipped: Skip[];
  resumed: number;
}

async function evaluateRecord(
  job: EvalJob,
  model: EvalModel,
  info: ModelInfo,
  record: EvalRecord,
  key: string,
): Promise<ResultRow | Skip> {
  const skip = (reason: string): Skip => {
    job.progress.log(`sayo: line ${record.line}: ${reason} (skipped)`);
    return { line: record.line, reason };
  };
  if (!fs.existsSync(record.imagePath)) return skip(`image ${record.image} not found`);
  try {
    const run = await runSample(
      job.engine,
      info,
      readImage(record.imagePath),
      record.question,
      record.boxes,
      job.maxNewTokens,
    );
    const m = sampleMetrics(run.summary.text, record.answer, run.steps, info.numLayers - 1, run.targets);
    return {
      key,
      model: model.spec,
      modelName: info.name,
      line: record.line,
      image: record.image,
      question: record.question,
      answer: record.answer,
      prediction: m.prediction,
      text: run.summary.text,
      correct: m.correct,
      tokens: m.tokens,
      stoppedBy: run.summary.stoppedBy,
      R_a: m.R_a,
      r_v: m.r_v,
      imageShare: m.imageShare,
      pointingHit: m.pointingHit,
      ms: run.ms,
      prefillMs: run.summary.prefillMs,
      decodeMs: run.summary.decodeMs,
      tokenIds: run.steps.map((t) => t.tokenId),
    };
  } catch (err) {
    const perSample =
      err instanceof CliError || (err instanceof EngineError && (err.code === 'bad_image' || err.code === 'bad_input'));
    if (!perSample) throw engineFailure(`${model.spec}, line ${record.line}`, err);
    return skip(messageOf(err));
  }
}

async function loadModel(job: EvalJob, model: EvalModel, question: string): Promise<ModelInfo> {
  // The folder's template and tokenizer, boxed, on this model's first question before the engine takes them.
  await preflightPrompt(folderOf(model.source), question, model.spec);
  const loaded = await job.engine
    .load(model.source)
    .catch((e) => Promise.reject(engineFailure(`cannot load ${model.spec}`, e)));
  if (loaded.attentionLayers.length === 0)
    job.progress.log(`sayo: ${model.spec}: ${loaded.attentionNote ?? 'no attention outputs'}`);
  if (loaded.architectureNote) job.progress.log(`sayo: ${model.spec}: ${loaded.architectureNote}`);
  return loaded;
}

/** The teacher-forced figures of `info`'s model on `author`'s row (the partner's greedy answer). */
async function teacherForce(
  job: EvalJob,
  info: ModelInfo,
  authorInfo: ModelInfo,
  record: EvalRecord,
  author: ResultRow,
  key: string,
): Promise<TeacherForcedEntry | null> {
  try {
    const answer = crossAnswer(author.text, author.tokenIds, info, authorInfo);
    const run = await scoreSample(job.engine, info, readImage(record.imagePath), record.question, record.boxes, answer);
    const m = sampleMetrics(run.summary.text, record.answer, run.steps, info.numLayers - 1, run.targets);
    return {
      kind: 'teacher-forced',
      key,
      tf_tokens: m.tokens,
      tf_R_a: m.R_a,
      tf_r_v: m.r_v,
      tf_imageShare: m.imageShare,
      tf_pointingHit: m.pointingHit,
    };
  } catch (err) {
    const perSample =
      err instanceof CliError || (err instanceof EngineError && (err.code === 'bad_image' || err.code === 'bad_input'));
    if (!perSample) throw engineFailure(`${info.name}, teacher-forced, line ${record.line}`, err);
    job.progress.log(`sayo: line ${record.line}: teacher-forced: ${messageOf(err)} (left empty)`);
    return null;
  }
}

/**
 * Run (or resume) every model over every record, then, with two or more models, teacher-force each model on its
 * partner's answers ({@link partnerOf}). Engine load failures throw CliError (exit 2).
 */
export async function runEval(job: EvalJob): Promise<ModelResult[]> {
  const done = loadProgress(job.progressFile);
  const doneTf = loadTeacherForced(job.progressFile);
  const results: ModelResult[] = [];
  const infos: Array<ModelInfo | null> = [];
  for (const model of job.models) {
    const rows: EvalRow[] = [];
    const skipped: Skip[] = [];
    let resumed = 0;
    let info: ModelInfo | null = null;
    let name = model.spec;
    for (const record of job.records) {
      const key = rowKey(model, record, job.maxNewTokens);
      const previous = done.get(key);
      if (previous && previous.model === model.spec) {
        rows.push({ ...previous, ...NO_TF });
        resumed++;
        name = previous.modelName;
        job.progress.tick(`${name} line ${record.line} (resumed)`);
        continue;
      }
      if (!info) {
        info = await loadModel(job, model, record.question);
        name = info.name;
      }
      const row = await evaluateRecord(job, model, info, record, key);
      if ('key' in row) {
        fs.appendFileSync(job.progressFile, JSON.stringify(row) + '\n');
        rows.push({ ...row, ...NO_TF });
      } else skipped.push(row);
      job.progress.tick(`${name} line ${record.line}`);
    }
    if (info) await job.engine.unload(info.handle);
    infos.push(info);
    results.push({ model, name, rows, skipped, resumed });
  }
  if (job.models.length < 2) return results;

  const records = new Map(job.records.map((r) => [r.line, r]));
  const tfKey = (scorer: EvalModel, author: ResultRow) => `tf:${scorer.fingerprint}:${author.key}`;
  // What each scorer still has to force: the partner rows with no teacher-forced score in progress.jsonl.
  const pending = results.map((result, i) => {
    const partner = new Map(results[partnerOf(i, results.length)].rows.map((r) => [r.line, r]));
    return result.rows.filter((r) => partner.has(r.line) && !doneTf.has(tfKey(result.model, partner.get(r.line)!)))
      .length;
  });
  // Whether to force token ids depends on both models' architecture (engine/cross.ts): a model that was resumed
  // entirely is loaded once to read it.
  for (let i = 0; i < results.length; i++) {
    const needed = pending[i] > 0 || pending.some((n, j) => n > 0 && partnerOf(j, results.length) === i);
    if (!needed || infos[i] || results[i].rows.length === 0) continue;
    const loaded = await loadModel(job, results[i].model, results[i].rows[0].question);
    await job.engine.unload(loaded.handle);
    infos[i] = loaded;
  }
  for (let i = 0; i < results.length; i++) {
    const result = results[i];
    const p = partnerOf(i, results.length);
    const partner = new Map(results[p].rows.map((r) => [r.line, r]));
    let info: ModelInfo | null = null;
    for (const row of result.rows) {
      const author = partner.get(row.line);
      if (!author) continue;
      const key = tfKey(result.model, author);
      let entry = doneTf.get(key) ?? null;
      if (!entry) {
        if (!info) info = await loadModel(job, result.model, row.question);
        entry = await teacherForce(job, info, infos[p]!, records.get(row.line)!, author, key);
        if (entry) fs.appendFileSync(job.progressFile, JSON.stringify(entry) + '\n');
        job.progress.tick(`${result.name} on ${results[p].name}'s answer, line ${row.line}`);
      }
      if (entry) {
        Object.assign(row, {
          tf_on: results[p].model.spec,
          tf_tokens: entry.tf_tokens,
          tf_R_a: entry.tf_R_a,
          tf_r_v: entry.tf_r_v,
          tf_imageShare: entry.tf_imageShare,
          tf_pointingHit: entry.tf_pointingHit,
        });
      }
    }
    if (info) await job.engine.unload(info.handle);
  }
  return results;
}
