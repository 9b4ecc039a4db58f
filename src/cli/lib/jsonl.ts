/**
 * @file Evaluation sets in JSONL: one record `{"image", "question", "answer", "boxes"}` per line, image paths
 * relative to the JSONL file. Malformed lines are reported with their line number and skipped; the rest are kept.
 */
import path from 'node:path';
import type { Box } from '../../core/geometry.ts';
import { CliError, messageOf } from './errors.ts';
import { INPUT_LIMITS } from '../../core/limits.ts';
import { LocalFileError, readRegularFile } from '../../engine/local-file.ts';

/** One valid record. */
export interface EvalRecord {
  /** 1-based line number in the JSONL file (the record's identity for resuming). */
  line: number;
  /** Image path as written in the file, and resolved against the file's folder. */
  image: string;
  imagePath: string;
  question: string;
  answer: string;
  boxes: Box[];
}

/** A line that could not be used, with why. */
export interface LineProblem {
  line: number;
  message: string;
}

const isBox = (b: unknown): b is Box =>
  Array.isArray(b) && b.length === 4 && b.every((v) => typeof v === 'number' && Number.isFinite(v));

function parseRecord(value: unknown, line: number, dir: string): EvalRecord {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
  const r = value as Record<string, unknown>;
  for (const k of ['image', 'question', 'answer']) {
    if (typeof r[k] !== 'string' || (r[k] as string).length === 0) throw new Error(`"${k}" must be a non-empty string`);
  }
  const boxes = r.boxes ?? [];
  if (!Array.isArray(boxes) || !boxes.every(isBox))
    throw new Error('"boxes" must be a list of [x1, y1, x2, y2] number lists');
  if (boxes.length > INPUT_LIMITS.maxBoxes)
    throw new Error(`"boxes": ${boxes.length} boxes, more than ${INPUT_LIMITS.maxBoxes}`);
  const image = r.image as string;
  return {
    line,
    image,
    imagePath: path.resolve(dir, image),
    question: r.question as string,
    answer: r.answer as string,
    boxes: boxes as Box[],
  };
}

/** Read a JSONL set; blank lines are ignored. Throws CliError only when the file itself cannot be read. */
export function readEvalSet(file: string): { records: EvalRecord[]; problems: LineProblem[] } {
  let text: string;
  try {
    text = readRegularFile(file, INPUT_LIMITS.maxInputBytes).toString('utf8');
  } catch (err) {
    throw new CliError(
      err instanceof LocalFileError ? `cannot read ${err.message}` : `cannot read ${file}: ${messageOf(err)}`,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const dir = path.dirname(path.resolve(file));
  const records: EvalRecord[] = [];
  const problems: LineProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      records.push(parseRecord(JSON.parse(raw), i + 1, dir));
    } catch (err) {
      problems.push({ line: i + 1, message: messageOf(err) });
    }
  });
  return { records, problems };
}
