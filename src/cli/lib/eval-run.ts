/**
 * @file The `sayo eval` loop: every model over every record, greedy, one result row per (model, record), appended
 * to `<out>/progress.jsonl` as soon as it exists so that a rerun with the same --out resumes. A row is reused only
 * when its key matches: the model's files (a hash of every file the answer depends on: the JSON configs and every
 * ONNX graph and weights file), the record's line and content, and the token budget. A torn last line (a kill
 * mid-append) is cut off before anything is appended, so it never swallows the next row.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sampleMetrics } from '../../core/metrics.ts';
import { INPUT_LIMITS } from '../../core/limits.ts';
import { readRegularFile } from '../../engine/local-file.ts';
import { DEFAULT_MODELS_DIR } from '../../engine/node.ts';
import { registryEntry } from '../../engine/registry.ts';
import { EngineError, type AttentionEngine, type ModelInfo, type ModelSource } from '../../engine/types.ts';
import { CliError, messageOf } from './errors.ts';
import type { EvalRecord } from './jsonl.ts';
import { engineFailure, readImage } from './model-arg.ts';
import type { Progress } from './progress.ts';
import { preflightPrompt } from './prompt-box.ts';
import { runSample } from './run-sample.ts';

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
      for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
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
    return crypto.createHash('sha256').update(readRegularFile(file, INPUT_LIMITS.maxImageBytes)).digest('hex').slice(0, 16);
  } catch {
    return 'unreadable';
  }
}

/** The resume key of a (model, record) pair: the model's files, the record and its image's bytes. */
export function rowKey(model: EvalModel, record: EvalRecord, maxNewTokens: number): string {
  const content = JSON.stringify([record.image, record.question, record.answer, record.boxes, imageDigest(record.imagePath)]);
  const digest = crypto.createHash('sha256').update(content).digest('hex').slice(0, 12);
  return `${model.fingerprint}:${record.line}:${digest}:${maxNewTokens}`;
}

/** A complete row as runEval writes it (a partial or foreign line is recomputed, never reused). */
function isResultRow(r: unknown): r is ResultRow {
  const o = r as Record<string, unknown>;
  const types: Record<string, string> = {
    key: 'string', model: 'string', modelName: 'string', line: 'number', image: 'string', question: 'string', answer: 'string',
    prediction: 'string', text: 'string', correct: 'boolean', tokens: 'number', stoppedBy: 'string', ms: 'number',
    prefillMs: 'number', decodeMs: 'number',
  };
  if (!o || typeof o !== 'object') return false;
  if (!Object.entries(types).every(([k, t]) => typeof o[k] === t)) return false;
  return ['R_a', 'r_v', 'imageShare'].every((k) => o[k] === null || typeof o[k] === 'number') && (o.pointingHit === null || typeof o.pointingHit === 'boolean');
}

/**
 * Rows already in `<out>/progress.jsonl`, by key (unreadable lines are ignored). A last line without its newline (cut
 * by a kill) is removed from the file, so the next appended row starts on a line of its own.
 */
export function loadProgress(file: string): Map<string, ResultRow> {
  const rows = new Map<string, ResultRow>();
  if (!fs.existsSync(file)) return rows;
  const text = fs.readFileSync(file, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) fs.truncateSync(file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
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
  rows: ResultRow[];
  skipped: Skip[];
  resumed: number;
}

async function evaluateRecord(job: EvalJob, model: EvalModel, info: ModelInfo, record: EvalRecord, key: string): Promise<ResultRow | Skip> {
  const skip = (reason: string): Skip => {
    job.progress.log(`sayo: line ${record.line}: ${reason} (skipped)`);
    return { line: record.line, reason };
  };
  if (!fs.existsSync(record.imagePath)) return skip(`image ${record.image} not found`);
  try {
    const run = await runSample(job.engine, info, readImage(record.imagePath), record.question, record.boxes, job.maxNewTokens);
    const m = sampleMetrics(run.summary.text, record.answer, run.steps, info.numLayers - 1, run.targets);
    return {
      key, model: model.spec, modelName: info.name, line: record.line, image: record.image, question: record.question,
      answer: record.answer, prediction: m.prediction, text: run.summary.text, correct: m.correct, tokens: m.tokens,
      stoppedBy: run.summary.stoppedBy, R_a: m.R_a, r_v: m.r_v, imageShare: m.imageShare, pointingHit: m.pointingHit, ms: run.ms,
      prefillMs: run.summary.prefillMs, decodeMs: run.summary.decodeMs,
    };
  } catch (err) {
    const perSample = err instanceof CliError || (err instanceof EngineError && (err.code === 'bad_image' || err.code === 'bad_input'));
    if (!perSample) throw engineFailure(`${model.spec}, line ${record.line}`, err);
    return skip(messageOf(err));
  }
}

/** Run (or resume) every model over every record. Engine load failures throw CliError (exit 2). */
export async function runEval(job: EvalJob): Promise<ModelResult[]> {
  const done = loadProgress(job.progressFile);
  const results: ModelResult[] = [];
  for (const model of job.models) {
    const rows: ResultRow[] = [];
    const skipped: Skip[] = [];
    let resumed = 0;
    let info: ModelInfo | null = null;
    let name = model.spec;
    for (const record of job.records) {
      const key = rowKey(model, record, job.maxNewTokens);
      const previous = done.get(key);
      if (previous && previous.model === model.spec) {
        rows.push(previous);
        resumed++;
        name = previous.modelName;
        job.progress.tick(`${name} line ${record.line} (resumed)`);
        continue;
      }
      if (!info) {
        // The folder's template and tokenizer, boxed, on this model's first question before the engine takes them.
        await preflightPrompt(folderOf(model.source), record.question, model.spec);
        const loaded = await job.engine.load(model.source).catch((e) => Promise.reject(engineFailure(`cannot load ${model.spec}`, e)));
        name = loaded.name;
        if (loaded.attentionLayers.length === 0) job.progress.log(`sayo: ${model.spec}: ${loaded.attentionNote ?? 'no attention outputs'}`);
        if (loaded.architectureNote) job.progress.log(`sayo: ${model.spec}: ${loaded.architectureNote}`);
        info = loaded;
      }
      const row = await evaluateRecord(job, model, info, record, key);
      if ('key' in row) {
        fs.appendFileSync(job.progressFile, JSON.stringify(row) + '\n');
        rows.push(row);
      } else skipped.push(row);
      job.progress.tick(`${name} line ${record.line}`);
    }
    if (info) await job.engine.unload(info.handle);
    results.push({ model, name, rows, skipped, resumed });
  }
  return results;
}
