/**
 * @file The folders `sayo_train export` writes for tiny random-weight checkpoints of each family, with Hugging Face's
 * answer (training/sayo_train/hf_export/browser_fixture.py → reference.json), built once per version of the exporter
 * (cache key: its sources, the tokenizer, training/requirements.lock and the token count) under
 * test-results/exports/<hash>. Shared by the Chromium spec (e2e/exported-folders.spec.ts) and the Node tests (vitest),
 * which run the same folders against the same reference.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const PYTHON = path.join(REPO_ROOT, '.venv/bin/python');
const EXPORTER = path.join(REPO_ROOT, 'training/sayo_train/hf_export');

/** The folders browser_fixture.py writes (folder name; qwen3_vl_deepstack is a qwen3_vl with DeepStack [0, 1, 2]). */
export const EXPORT_FAMILIES = ['qwen2_vl', 'qwen2_5_vl', 'qwen3_vl', 'qwen3_vl_deepstack'] as const;
export type ExportFamily = (typeof EXPORT_FAMILIES)[number];
/** Greedy tokens per reference answer. */
export const EXPORT_MAX_NEW_TOKENS = 4;
/** Longest a fresh build may take (four exports checked against HF in onnxruntime, on 2 shared cores). */
export const EXPORT_BUILD_TIMEOUT_MS = 600_000;

/** One greedy answer: its tokens and, per token, the attention row over the image tokens (StepRecord layout). */
export interface ExportAnswer {
  tokens: number[];
  attention: number[][];
}

/** HF's answer for one folder (reference.json). */
export interface ExportReference extends ExportAnswer {
  question: string;
  inputIds: number[];
  grid: { rows: number; cols: number };
  imageSpan: { start: number; length: number };
  layers: number[];
  heads: number;
  /** The q4 graphs' own greedy answer in onnxruntime (CPU), for the families exported in q4 too. */
  q4?: ExportAnswer;
}

/** A built fixture: its directory (<dir>/<family>/ is a folder, <dir>/<family>.png its image) and reference. */
export interface Exports {
  dir: string;
  reference: Record<ExportFamily, ExportReference>;
  folder(family: ExportFamily): string;
  image(family: ExportFamily): Buffer;
  /** The folder's config.json model_type (qwen3_vl for qwen3_vl_deepstack). */
  modelType(family: ExportFamily): string;
}

function keyFiles(): string[] {
  return [
    ...fs
      .readdirSync(EXPORTER)
      .filter((f) => f.endsWith('.py'))
      .sort()
      .map((f) => path.join(EXPORTER, f)),
    path.join(REPO_ROOT, 'training/sayo_train/tokenizer.py'),
    path.join(REPO_ROOT, 'training/requirements.lock'),
  ];
}

/** Blocks the thread for `ms` (the builders are synchronous: Playwright's beforeAll and vitest's run them so). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs browser_fixture.py into a temporary directory and renames it to `dir`. */
function build(dir: string): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const run = spawnSync(PYTHON, ['-m', 'sayo_train.hf_export.browser_fixture', tmp, String(EXPORT_MAX_NEW_TOKENS)], {
    encoding: 'utf8',
    timeout: EXPORT_BUILD_TIMEOUT_MS,
    env: { ...process.env, PYTHONPATH: path.join(REPO_ROOT, 'training') },
  });
  if (run.error)
    throw new Error(`cannot run ${PYTHON} (${run.error.message}): create the venv with bash training/tools/venv.sh`);
  if (run.status !== 0) throw new Error(`browser_fixture.py failed (${run.status}): ${run.stderr.slice(-3000)}`);
  fs.writeFileSync(path.join(tmp, 'done'), run.stdout);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
}

/**
 * The exported folders + reference.json, built by Python when this exporter version has none yet. One test process
 * builds (it holds `<dir>.lock`); others started meanwhile (vitest runs files in parallel) wait for its `done`, and
 * build themselves only if the holder is gone without one.
 */
export function buildExports(): Exports {
  const h = crypto.createHash('sha256');
  for (const f of keyFiles()) h.update(path.relative(REPO_ROOT, f)).update(fs.readFileSync(f));
  h.update(String(EXPORT_MAX_NEW_TOKENS));
  const dir = path.join(REPO_ROOT, 'test-results/exports', h.digest('hex').slice(0, 16));
  const done = path.join(dir, 'done');
  const lock = `${dir}.lock`;
  const failed = `${dir}.failed`;
  const start = Date.now();
  while (!fs.existsSync(done)) {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    let mine = false;
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      mine = true;
    } catch {
      // Another process builds: wait for it, take over when it is gone, fail with it when it failed.
      const failure = fs.statSync(failed, { throwIfNoEntry: false });
      if (failure && failure.mtimeMs >= start) throw new Error(fs.readFileSync(failed, 'utf8'));
      let holder: number;
      try {
        holder = Number(fs.readFileSync(lock, 'utf8') || NaN);
      } catch {
        continue; // released meanwhile
      }
      let alive = true;
      try {
        process.kill(holder, 0);
      } catch {
        alive = false;
      }
      if (!alive || Date.now() - start > EXPORT_BUILD_TIMEOUT_MS) fs.rmSync(lock, { force: true });
      else sleepSync(500);
    }
    if (mine) {
      try {
        fs.rmSync(failed, { force: true });
        if (!fs.existsSync(done)) build(dir);
      } catch (e) {
        fs.writeFileSync(failed, (e as Error).message);
        throw e;
      } finally {
        fs.rmSync(lock, { force: true });
      }
    }
  }
  const reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
  return {
    dir,
    reference,
    folder: (family) => path.join(dir, family),
    image: (family) => fs.readFileSync(path.join(dir, `${family}.png`)),
    modelType: (family) => JSON.parse(fs.readFileSync(path.join(dir, family, 'config.json'), 'utf8')).model_type,
  };
}
