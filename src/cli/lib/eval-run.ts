/**
 * @file The `sayo eval` loop: every model over every record, greedy, one result row per (model, record), appended
 * to `<out>/progress.jsonl` as soon as it exists so that a rerun with the same --out resumes. A row is reused only
 * when its key matches: the model's files (hash), the record's line and content, and the token budget.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sampleMetrics } from '../../core/metrics.ts';
import { DEFAULT_MODELS_DIR } from '../../engine/node.ts';
import { registryEntry } from '../../engine/registry.ts';
import { EngineError, type AttentionEngine, type ModelInfo, type ModelSource } from '../../engine/types.ts';
import { CliError, messageOf } from './errors.ts';
import type { EvalRecord } from './jsonl.ts';
import { engineFailure, readImage } from './model-arg.ts';
import type { Progress } from './progress.ts';
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
  /** Hash of the folder's config and decoder files: rows of another export are not reused. */
  fingerprint: string;
}

/** Folder of a model source on disk. */
function folderOf(source: ModelSource): string {
  if (source.kind === 'path') return source.path;
  if (source.kind === 'registry') return path.join(DEFAULT_MODELS_DIR, registryEntry(source.id)?.path ?? source.id);
  throw new CliError('only folders and embedded registry models can be evaluated in Node');
}

/** A short hash of config.json and every onnx/decoder_model_merged* file (missing files hash as absent). */
export function fingerprint(source: ModelSource): string {
  const dir = folderOf(source);
  const hash = crypto.createHash('sha256');
  const onnxDir = path.join(dir, 'onnx');
  const decoders = fs.existsSync(onnxDir) ? fs.readdirSync(onnxDir).filter((f) => f.startsWith('decoder_model_merged')).sort() : [];
  for (const file of ['config.json', ...decoders.map((f) => `onnx/${f}`)]) {
    hash.update(file);
    const full = path.join(dir, file);
    if (fs.existsSync(full)) hash.update(fs.readFileSync(full));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The resume key of a (model, record) pair. */
export function rowKey(model: EvalModel, record: EvalRecord, maxNewTokens: number): string {
  const content = JSON.stringify([record.image, record.question, record.answer, record.boxes]);
  const digest = crypto.createHash('sha256').update(content).digest('hex').slice(0, 12);
  return `${model.fingerprint}:${record.line}:${digest}:${maxNewTokens}`;
}

/** Rows already in `<out>/progress.jsonl`, by key (unreadable lines, e.g. cut by a kill, are ignored). */
export function loadProgress(file: string): Map<string, ResultRow> {
  const rows = new Map<string, ResultRow>();
  if (!fs.existsSync(file)) return rows;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    try {
      const row = JSON.parse(line) as ResultRow;
      if (typeof row?.key === 'string') rows.set(row.key, row);
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

/** Per model: its display name, its rows in record order, and how many were reused from an earlier run. */
export interface ModelResult {
  model: EvalModel;
  name: string;
  rows: ResultRow[];
  resumed: number;
}

async function evaluateRecord(job: EvalJob, model: EvalModel, info: ModelInfo, record: EvalRecord, key: string): Promise<ResultRow | null> {
  if (!fs.existsSync(record.imagePath)) {
    job.progress.log(`sayo: line ${record.line}: image ${record.image} not found (skipped)`);
    return null;
  }
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
    job.progress.log(`sayo: line ${record.line}: ${messageOf(err)} (skipped)`);
    return null;
  }
}

/** Run (or resume) every model over every record. Engine load failures throw CliError (exit 2). */
export async function runEval(job: EvalJob): Promise<ModelResult[]> {
  const done = loadProgress(job.progressFile);
  const results: ModelResult[] = [];
  for (const model of job.models) {
    const rows: ResultRow[] = [];
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
        const loaded = await job.engine.load(model.source).catch((e) => Promise.reject(engineFailure(`cannot load ${model.spec}`, e)));
        name = loaded.name;
        if (loaded.attentionLayers.length === 0) job.progress.log(`sayo: ${model.spec}: ${loaded.attentionNote ?? 'no attention outputs'}`);
        info = loaded;
      }
      const row = await evaluateRecord(job, model, info, record, key);
      if (row) {
        fs.appendFileSync(job.progressFile, JSON.stringify(row) + '\n');
        rows.push(row);
      }
      job.progress.tick(`${name} line ${record.line}`);
    }
    if (info) await job.engine.unload(info.handle);
    results.push({ model, name, rows, resumed });
  }
  return results;
}
