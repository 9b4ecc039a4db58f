/**
 * @file `sayo eval --sessions`: per kept question, a session file the lens imports (src/session/serialize.ts,
 * version 1) — the image, the question, the boxes, the pair's answers with their captured attention (last decoder
 * layer, the one every metric uses) and, when the eval teacher-forced them, each model's score of the other's answer
 * (source "score", what the lens's Cross-score button makes). The pair is the first and the last --model ("base" and
 * "trained" in the lens). Panels are rebuilt from the rows' token ids through the engine's `score` (teacher forcing
 * reproduces the generated steps), so a file shows exactly the answer its row reports, resumed or not.
 */
import path from 'node:path';
import { readImageHeader } from '../../session/image-header.ts';
import { serializeSession } from '../../session/serialize.ts';
import type { LensSession, SessionPanel, Side } from '../../session/types.ts';
import { DEFAULT_VIEW } from '../../state/slices/view.ts';
import { crossAnswer } from '../../engine/cross.ts';
import {
  EngineError,
  type AttentionEngine,
  type ImageInput,
  type ModelInfo,
  type PromptInfo,
  type RunSummary,
  type StepRecord,
} from '../../engine/types.ts';
import { CliError, messageOf } from './errors.ts';
import type { EvalRow, ModelResult } from './eval-run.ts';
import type { EvalRecord } from './jsonl.ts';
import { engineFailure, readImage } from './model-arg.ts';
import type { Progress } from './progress.ts';
import { makeDirs, writeFileAtomic } from './write-file.ts';

/** Which questions get a session file. */
export type Keep = { kind: 'all' } | { kind: 'worst'; n: number } | { kind: 'diff'; n: number };

/** Parses `all`, `worst:N` or `diff:N`. */
export function parseKeep(value: string): Keep {
  if (value === 'all') return { kind: 'all' };
  const m = /^(worst|diff):(\d+)$/.exec(value);
  if (m && Number(m[2]) >= 1) return { kind: m[1] as 'worst' | 'diff', n: Number(m[2]) };
  throw new CliError(`--keep must be all, worst:N or diff:N (N ≥ 1), not "${value}"`);
}

/**
 * The largest |trained − base| R_a of a question on identical text: on the base's answer (trained teacher-forced vs
 * base's own) and on the trained's answer (trained's own vs base teacher-forced), whichever the eval scored; null
 * when neither was.
 */
export function identicalTextGap(base: EvalRow | undefined, trained: EvalRow | undefined): number | null {
  if (!base || !trained) return null;
  const gaps: number[] = [];
  if (trained.tf_on === base.model && trained.tf_R_a !== null && base.R_a !== null)
    gaps.push(Math.abs(trained.tf_R_a - base.R_a));
  if (base.tf_on === trained.model && base.tf_R_a !== null && trained.R_a !== null)
    gaps.push(Math.abs(trained.R_a - base.tf_R_a));
  return gaps.length ? Math.max(...gaps) : null;
}

/**
 * Lines to write a session for, in line order. all: every line the pair answered; worst:N: the N lowest R_a of the
 * trained model (the last --model) on its own answers; diff:N: the N largest {@link identicalTextGap}. Ties go to the
 * lower line.
 */
export function selectLines(keep: Keep, results: ModelResult[]): number[] {
  const base = results[0];
  const trained = results[results.length - 1];
  const byLine = (r: ModelResult) => new Map(r.rows.map((row) => [row.line, row]));
  const lines = [...new Set(results.flatMap((r) => r.rows.map((row) => row.line)))].sort((a, b) => a - b);
  if (keep.kind === 'all') return lines;
  let scored: Array<[number, number]>;
  if (keep.kind === 'worst') {
    scored = trained.rows.filter((r) => r.R_a !== null).map((r) => [r.R_a!, r.line]);
  } else {
    if (results.length < 2) throw new CliError('--keep diff:N compares two models: give two --model');
    const b = byLine(base);
    const t = byLine(trained);
    scored = lines.flatMap((line): Array<[number, number]> => {
      const gap = identicalTextGap(b.get(line), t.get(line));
      return gap === null ? [] : [[-gap, line]];
    });
  }
  scored.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return scored
    .slice(0, keep.n)
    .map(([, line]) => line)
    .sort((a, b) => a - b);
}

/** The session file's name for a record line. */
export function sessionName(line: number): string {
  return `line-${String(line).padStart(6, '0')}.json`;
}

function dataUrl(image: ImageInput): { dataUrl: string; width: number; height: number } {
  if (image.kind !== 'encoded') throw new CliError('a session needs the encoded image');
  const header = readImageHeader(image.bytes);
  if (!header) throw new CliError('the image has no readable header');
  return {
    dataUrl: `data:${image.mime ?? `image/${header.format}`};base64,${Buffer.from(image.bytes).toString('base64')}`,
    width: header.width,
    height: header.height,
  };
}

/** One teacher-forced pass on the last layer, as a panel. */
async function panel(
  engine: AttentionEngine,
  info: ModelInfo,
  side: Side,
  spec: string,
  request: { image: ImageInput; question: string; answer: string; answerTokenIds?: number[] },
  source: SessionPanel['source'],
  summary?: SessionPanel['summary'],
): Promise<SessionPanel> {
  const steps: StepRecord[] = [];
  let prompt: PromptInfo | undefined;
  const last = info.numLayers - 1;
  const captureLayers = info.attentionLayers.includes(last) ? [last] : [];
  const scored = await engine.score(
    info.handle,
    { ...request, captureLayers },
    { onPrompt: (p) => (prompt = p), onStep: (s) => steps.push(s) },
  );
  if (!prompt) throw new CliError('the engine sent no prompt information');
  // The prompt's token ids are not part of the session format.
  const kept: PromptInfo = { ...prompt };
  delete kept.inputIds;
  return { side, modelId: spec, modelName: info.name, prompt: kept, steps, summary: summary ?? scored, source };
}

/** Everything writeSessions needs. */
export interface SessionJob {
  engine: AttentionEngine;
  results: ModelResult[];
  records: EvalRecord[];
  lines: number[];
  dir: string;
  progress: Progress;
}

/**
 * Writes one session file per line of `job.lines` into `job.dir` (replacing an earlier one) and returns the file of
 * each line. A question the pair cannot be scored on is reported and left without a file.
 */
export async function writeSessions(job: SessionJob): Promise<Map<number, string>> {
  const written = new Map<number, string>();
  if (job.lines.length === 0) return written;
  makeDirs(job.dir);
  const pair = job.results.length > 1 ? [job.results[0], job.results[job.results.length - 1]] : [job.results[0]];
  const sides: Side[] = ['base', 'trained'];
  const infos: ModelInfo[] = [];
  try {
    for (const r of pair)
      infos.push(
        await job.engine
          .load(r.model.source)
          .catch((e) => Promise.reject(engineFailure(`cannot load ${r.model.spec}`, e))),
      );
    const rows = pair.map((r) => new Map(r.rows.map((row) => [row.line, row])));
    const records = new Map(job.records.map((r) => [r.line, r]));
    for (const line of job.lines) {
      const record = records.get(line)!;
      try {
        const image = readImage(record.imagePath);
        const panels: SessionPanel[] = [];
        for (let i = 0; i < pair.length; i++) {
          const row = rows[i].get(line);
          if (!row) continue;
          const summary = {
            tokens: row.tokens,
            stoppedBy: row.stoppedBy as RunSummary['stoppedBy'],
            text: row.text,
            prefillMs: row.prefillMs,
            decodeMs: row.decodeMs,
          };
          const base = { image, question: record.question };
          panels.push(
            await panel(
              job.engine,
              infos[i],
              sides[i],
              row.model,
              { ...base, answer: row.text, answerTokenIds: row.tokenIds },
              'generate',
              summary,
            ),
          );
          // The teacher-forced panel of this model on the other's answer, when the eval scored exactly that pair.
          const j = 1 - i;
          const other = pair.length > 1 ? rows[j].get(line) : undefined;
          if (other && row.tf_on === other.model) {
            panels.push(
              await panel(
                job.engine,
                infos[i],
                sides[i],
                row.model,
                { ...base, ...crossAnswer(other.text, other.tokenIds, infos[i], infos[j]) },
                'score',
              ),
            );
          }
        }
        if (panels.length === 0) continue;
        const img = dataUrl(image);
        const layer = panels.find((p) => p.steps.length)?.steps[0].layers.at(-1) ?? 0;
        const session: LensSession = {
          version: 1,
          createdAt: new Date().toISOString(),
          question: record.question,
          image: { name: path.basename(record.image), ...img },
          boxes: record.boxes.map((b) => [...b] as LensSession['boxes'][number]),
          panels,
          view: { ...DEFAULT_VIEW, layer },
        };
        const file = path.join(job.dir, sessionName(line));
        writeFileAtomic(file, serializeSession(session));
        written.set(line, file);
      } catch (err) {
        const perSample =
          err instanceof CliError ||
          (err instanceof EngineError && (err.code === 'bad_image' || err.code === 'bad_input'));
        if (!perSample) throw engineFailure(`session of line ${line}`, err);
        job.progress.log(`sayo: line ${line}: no session file: ${messageOf(err)}`);
      }
      job.progress.tick(`session of line ${line}`);
    }
  } finally {
    for (const info of infos) await job.engine.unload(info.handle);
  }
  return written;
}
