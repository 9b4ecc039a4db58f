/**
 * @file A "reward case" (the `sayo reward` JSON input): parsing that names the offending field, and the
 * evaluation that turns a valid case into the reward output. Pure; the CLI only reads the file and prints.
 *
 * Input:  { image: {width, height}, processor: {patch_size, merge_size, min_pixels, max_pixels},
 *           boxes: [[x1, y1, x2, y2], …], attention: [T][H][N], entropy: [T], top_ratio?, eps?,
 *           alignment?: "produced" | "input" }   (attention[t] is the row that produced token t; see Alignment)
 * Output: { grid: {rows, cols, resized}, target_tokens, cover, per_token: [{a, v, R_a}], selected, a_q, v_q, r_v }
 */
import {
  type Box,
  type Grid,
  type ProcessorGeometry,
  type Size,
  GeometryError,
  cellCoverage64,
  clipBox,
  boxToTokens,
  gridFor,
} from './geometry.ts';
import { ALIGNMENTS, type Alignment, DEFAULT_ALIGNMENT, DEFAULT_TOP_RATIO, EPS, computeReward } from './reward.ts';
import { INPUT_LIMITS, SESSION_LIMITS } from './limits.ts';

/** Invalid case input: `field` is a JSON path such as `attention[3][1]`, `problem` says what is wrong. */
export class CaseError extends Error {
  constructor(
    public readonly field: string,
    public readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'CaseError';
  }
}

/** A validated reward case. */
export interface RewardCase {
  image: Size;
  processor: ProcessorGeometry;
  boxes: Box[];
  /** One heads × n array per generated token (float64: the JSON numbers exactly). */
  attention: Float64Array[];
  heads: number;
  entropy: number[];
  top_ratio: number;
  eps: number;
  alignment: Alignment;
}

/** The `sayo reward` output. */
export interface RewardCaseOutput {
  grid: { rows: number; cols: number; resized: Size };
  target_tokens: number[];
  /** Fraction of each cell covered by the union of the boxes (n values). */
  cover: number[];
  per_token: { a: number; v: number; R_a: number }[];
  selected: number[];
  a_q: number;
  v_q: number;
  r_v: number;
}

/** Marker strings standing for the non-JSON literals NaN / Infinity that Python's json module writes. */
const NON_FINITE: Record<string, number> = {
  '\u0000NaN': Number.NaN,
  '\u0000Infinity': Number.POSITIVE_INFINITY,
  '\u0000-Infinity': Number.NEGATIVE_INFINITY,
};

/**
 * JSON.parse that also accepts the bare literals NaN, Infinity and -Infinity (as Python's json.dumps writes them),
 * turning them into marker strings so that validation can name the field that holds them.
 * @throws CaseError('input', …) for text that is not JSON
 */
export function parseCaseJson(text: string): unknown {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === 'N' || ch === 'I' || ch === '-') {
      const word = ['NaN', 'Infinity', '-Infinity'].find((w) => text.startsWith(w, i));
      if (word) {
        out += `${text.slice(last, i)}"\\u0000${word}"`;
        i += word.length - 1;
        last = i + 1;
      }
    }
  }
  out += text.slice(last);
  try {
    return JSON.parse(out);
  } catch (err) {
    throw new CaseError('input', `not valid JSON (${(err as Error).message})`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string' && value in NON_FINITE) return value.slice(1);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`;
  return String(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(obj: Record<string, unknown>, key: string, path: string): unknown {
  if (!(key in obj) || obj[key] === undefined) throw new CaseError(path, 'missing');
  return obj[key];
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) throw new CaseError(path, `expected an object, got ${describe(value)}`);
  return value;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new CaseError(path, `expected an array, got ${describe(value)}`);
  return value;
}

function finite(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new CaseError(path, `expected a finite number, got ${describe(value)}`);
  }
  return value;
}

function positiveInteger(value: unknown, path: string): number {
  const v = finite(value, path);
  if (!Number.isInteger(v) || v <= 0) throw new CaseError(path, `expected a positive integer, got ${v}`);
  return v;
}

function nonNegative(value: unknown, path: string): number {
  const v = finite(value, path);
  if (v < 0) throw new CaseError(path, `expected a value ≥ 0, got ${v}`);
  return v;
}

function parseImage(root: Record<string, unknown>): Size {
  const image = object(field(root, 'image', 'image'), 'image');
  return {
    width: positiveInteger(field(image, 'width', 'image.width'), 'image.width'),
    height: positiveInteger(field(image, 'height', 'image.height'), 'image.height'),
  };
}

function parseProcessor(root: Record<string, unknown>): ProcessorGeometry {
  const p = object(field(root, 'processor', 'processor'), 'processor');
  const get = (key: string) => field(p, key, `processor.${key}`);
  const proc = {
    patch_size: positiveInteger(get('patch_size'), 'processor.patch_size'),
    merge_size: positiveInteger(get('merge_size'), 'processor.merge_size'),
    min_pixels: nonNegative(get('min_pixels'), 'processor.min_pixels'),
    max_pixels: positiveInteger(get('max_pixels'), 'processor.max_pixels'),
  };
  if (proc.min_pixels > proc.max_pixels) {
    throw new CaseError('processor.min_pixels', `${proc.min_pixels} exceeds max_pixels ${proc.max_pixels}`);
  }
  return proc;
}

function parseBoxes(root: Record<string, unknown>, image: Size): Box[] {
  const raw = array(field(root, 'boxes', 'boxes'), 'boxes');
  if (raw.length === 0) throw new CaseError('boxes', 'no box: at least one key region is needed');
  if (raw.length > INPUT_LIMITS.maxBoxes)
    throw new CaseError(
      'boxes',
      `${raw.length} boxes, more than ${INPUT_LIMITS.maxBoxes} (accepted: 1 to ${INPUT_LIMITS.maxBoxes})`,
    );
  return raw.map((b, i) => {
    const path = `boxes[${i}]`;
    const items = array(b, path);
    if (items.length !== 4) throw new CaseError(path, `expected [x1, y1, x2, y2], got ${items.length} values`);
    const box = items.map((v, j) => finite(v, `${path}[${j}]`)) as Box;
    const text = `[${box.join(', ')}]`;
    if (box[2] < box[0] || box[3] < box[1]) throw new CaseError(path, `expected x1 ≤ x2 and y1 ≤ y2, got ${text}`);
    if (box[2] === box[0] || box[3] === box[1]) throw new CaseError(path, `zero area ${text}`);
    if (clipBox(box, image) === null) {
      throw new CaseError(path, `${text} lies wholly outside the ${image.width}×${image.height} image`);
    }
    return box;
  });
}

function parseAttention(root: Record<string, unknown>, n: number): { attention: Float64Array[]; heads: number } {
  const tokens = array(field(root, 'attention', 'attention'), 'attention');
  if (tokens.length === 0) throw new CaseError('attention', 'no generated token (expected T ≥ 1 entries)');
  if (tokens.length > INPUT_LIMITS.maxSteps)
    throw new CaseError(
      'attention',
      `${tokens.length} tokens, more than ${INPUT_LIMITS.maxSteps} (accepted: 1 to ${INPUT_LIMITS.maxSteps})`,
    );
  let heads = 0;
  const attention = tokens.map((tok, t) => {
    const rows = array(tok, `attention[${t}]`);
    if (t === 0) {
      if (rows.length === 0) throw new CaseError('attention[0]', 'no head (expected H ≥ 1 rows)');
      if (rows.length > INPUT_LIMITS.maxHeads)
        throw new CaseError('attention[0]', `${rows.length} heads, more than ${INPUT_LIMITS.maxHeads}`);
      heads = rows.length;
    } else if (rows.length !== heads) {
      throw new CaseError(`attention[${t}]`, `expected ${heads} heads (as attention[0]), got ${rows.length}`);
    }
    const flat = new Float64Array(heads * n);
    rows.forEach((row, h) => {
      const path = `attention[${t}][${h}]`;
      const values = array(row, path);
      if (values.length !== n) throw new CaseError(path, `expected ${n} values (rows·cols), got ${values.length}`);
      for (let k = 0; k < n; k++) {
        const v = values[k];
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new CaseError(`${path}[${k}]`, `expected a finite attention value, got ${describe(v)}`);
        }
        if (v < 0) throw new CaseError(`${path}[${k}]`, `negative attention ${v}`);
        flat[h * n + k] = v;
      }
    });
    return flat;
  });
  return { attention, heads };
}

function parseEntropy(root: Record<string, unknown>, total: number): number[] {
  const raw = array(field(root, 'entropy', 'entropy'), 'entropy');
  if (raw.length !== total)
    throw new CaseError('entropy', `expected ${total} values (one per token), got ${raw.length}`);
  return raw.map((e, t) => nonNegative(e, `entropy[${t}]`));
}

function parseOptional(root: Record<string, unknown>): { top_ratio: number; eps: number; alignment: Alignment } {
  let top_ratio = DEFAULT_TOP_RATIO;
  let eps = EPS;
  let alignment = DEFAULT_ALIGNMENT;
  if (root.top_ratio !== undefined) {
    top_ratio = finite(root.top_ratio, 'top_ratio');
    if (!(top_ratio > 0 && top_ratio <= 1))
      throw new CaseError('top_ratio', `expected 0 < top_ratio ≤ 1, got ${top_ratio}`);
  }
  if (root.eps !== undefined) {
    eps = finite(root.eps, 'eps');
    if (!(eps > 0)) throw new CaseError('eps', `expected eps > 0, got ${eps}`);
  }
  if (root.alignment !== undefined) {
    if (!ALIGNMENTS.includes(root.alignment as Alignment)) {
      throw new CaseError(
        'alignment',
        `expected one of ${ALIGNMENTS.map((a) => `"${a}"`).join(', ')}, got ${JSON.stringify(root.alignment)}`,
      );
    }
    alignment = root.alignment as Alignment;
  }
  if (alignment === 'input' && Array.isArray(root.attention) && root.attention.length < 2) {
    throw new CaseError('attention', 'the input alignment scores tokens 0…T−2: need at least 2 tokens');
  }
  return { top_ratio, eps, alignment };
}

/** The grid of a case, with geometry errors (e.g. aspect ratio > 200) attributed to `image`. */
function caseGrid(image: Size, processor: ProcessorGeometry): Grid {
  let grid: Grid;
  try {
    grid = gridFor(image, processor);
  } catch (err) {
    if (err instanceof GeometryError) throw new CaseError('image', err.message);
    throw err;
  }
  const n = grid.rows * grid.cols;
  if (n > SESSION_LIMITS.maxCells) {
    throw new CaseError(
      'image',
      `${image.width}×${image.height} with max_pixels ${processor.max_pixels} gives a ${grid.rows}×${grid.cols} grid of ${n} visual tokens ` +
        `(accepted: at most ${SESSION_LIMITS.maxCells})`,
    );
  }
  return grid;
}

/**
 * Validates a parsed case. Checks run in a fixed order (image, processor, boxes, attention, entropy, options) and
 * the first problem is reported.
 * @throws CaseError naming the field and the problem
 */
export function validateCase(input: unknown): { kase: RewardCase; grid: Grid } {
  const root = object(input, 'input');
  const image = parseImage(root);
  const processor = parseProcessor(root);
  const grid = caseGrid(image, processor);
  const boxes = parseBoxes(root, image);
  const { attention, heads } = parseAttention(root, grid.rows * grid.cols);
  const entropy = parseEntropy(root, attention.length);
  return { kase: { image, processor, boxes, attention, heads, entropy, ...parseOptional(root) }, grid };
}

/**
 * Evaluates a validated case: grid, target tokens, coverage, per-token scores, selection and r_v.
 * @throws CaseError('boxes', …) when the boxes select no target token
 */
export function evaluateCase(kase: RewardCase, grid: Grid): RewardCaseOutput {
  const targets = boxToTokens(kase.boxes, grid);
  if (targets.length === 0) throw new CaseError('boxes', 'no target token');
  const n = grid.rows * grid.cols;
  const result = computeReward({
    tokens: kase.attention,
    heads: kase.heads,
    n,
    targets,
    entropy: kase.entropy,
    topRatio: kase.top_ratio,
    eps: kase.eps,
    alignment: kase.alignment,
  });
  return {
    grid: { rows: grid.rows, cols: grid.cols, resized: { ...grid.resized } },
    target_tokens: Array.from(targets),
    cover: Array.from(cellCoverage64(kase.boxes, grid)),
    per_token: result.perToken,
    selected: result.selected,
    a_q: result.a_q,
    v_q: result.v_q,
    r_v: result.r_v,
  };
}

/** Parses, validates and evaluates case JSON text in one step. @throws CaseError */
export function runCaseText(text: string): RewardCaseOutput {
  const { kase, grid } = validateCase(parseCaseJson(text));
  return evaluateCase(kase, grid);
}
