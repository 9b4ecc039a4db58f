/**
 * @file Session JSON: a compact, versioned, self-describing file (`"format": "sayo-lens-session"`, `"version": 1`).
 * Float32Arrays (attention, imageShare, rowSum) are stored as base64 of their little-endian bytes, which keeps
 * a 50-token, 2-layer, 1,300-cell session near 2.8 MB instead of ~10 MB of decimal numbers, and round-trips
 * bit-exactly. `parseSession` validates every field and every length invariant and throws a `SessionError`
 * naming the field, so a hand-edited or truncated file gives a message instead of a broken view.
 */
import type { PromptInfo, RunSummary, StepRecord } from '../engine/types.ts';
import type { Box } from '../core/geometry.ts';
import type { HeadMode, NormMode } from '../core/aggregate.ts';
import type { LensSession, SessionPanel, ViewState } from './types.ts';
import { base64ToFloats, floatsToBase64 } from './base64.ts';
import { SessionError, arr, int, num, obj, oneOf, opt, str } from './check.ts';
import { dataUrlImageHeader } from './image-header.ts';
import { SESSION_LIMITS as L } from '../core/limits.ts';

/** Thrown by `parseSession` / `readSession`; `field` is the dotted path of the offending value. */
export { SessionError } from './check.ts';

/** Value of the `format` field that marks a SAYO Lens session file. */
export const SESSION_FORMAT = 'sayo-lens-session';
/** The only version this build writes and reads. */
export const SESSION_VERSION = 1;

const STOPPED_BY = ['eos', 'max_tokens', 'cancel'] as const;
const SIDES = ['base', 'trained'] as const;
const SOURCES = ['generate', 'score'] as const;
const NORMS: readonly NormMode[] = ['raw', 'image', 'shared'];
const COLOR_BY = ['ra', 'entropy'] as const;

/**
 * Writes a session as JSON text. Float32Arrays become base64 strings; everything else is plain JSON.
 * @param s the session to write
 * @param space optional indentation passed to JSON.stringify (none by default: compact)
 */
export function serializeSession(s: LensSession, space?: number): string {
  const file = {
    format: SESSION_FORMAT,
    version: SESSION_VERSION,
    createdAt: s.createdAt,
    question: s.question,
    image: s.image,
    boxes: s.boxes,
    panels: s.panels.map((p) => ({
      side: p.side,
      modelId: p.modelId,
      modelName: p.modelName,
      source: p.source,
      prompt: p.prompt,
      summary: p.summary,
      steps: p.steps.map((st) => ({
        index: st.index,
        tokenId: st.tokenId,
        text: st.text,
        entropy: st.entropy,
        layers: st.layers,
        heads: st.heads,
        n: st.n,
        attention: floatsToBase64(st.attention),
        imageShare: floatsToBase64(st.imageShare),
        rowSum: floatsToBase64(st.rowSum),
      })),
    })),
    view: s.view,
  };
  return JSON.stringify(file, null, space);
}

/**
 * Reads and validates session JSON text (a leading UTF-8 byte order mark is ignored).
 * @param maxChars the size limit (SESSION_LIMITS.maxChars; tests pass a smaller one)
 * @throws SessionError with a message naming the offending field (or saying the text is not JSON / is truncated)
 */
export function parseSession(text: string, maxChars: number = L.maxChars): LensSession {
  if (typeof text !== 'string' || text.trim() === '') throw new SessionError('', 'the file is empty');
  if (text.length > maxChars) {
    throw new SessionError(
      '',
      `${(text.length / 1e6).toFixed(1)} MB is too large (accepted: at most ${(maxChars / 1e6).toFixed(1)} MB of JSON)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new SessionError('', `not valid JSON — the file may be truncated or edited (${(e as Error).message})`);
  }
  return readSession(raw);
}

/**
 * Validates an already-parsed session file object (the JSON shape, with base64 arrays).
 * @throws SessionError naming the offending field
 */
export function readSession(raw: unknown): LensSession {
  const o = obj(raw, '');
  if (o.format !== SESSION_FORMAT) {
    throw new SessionError('format', `not a SAYO Lens session file (expected "format": "${SESSION_FORMAT}")`);
  }
  const version = int(o.version, 'version', 1);
  if (version !== SESSION_VERSION) {
    throw new SessionError(
      'version',
      `version ${version} was written by a newer SAYO Lens; this build reads version ${SESSION_VERSION}`,
    );
  }
  const createdAt = str(o.createdAt, 'createdAt');
  if (Number.isNaN(Date.parse(createdAt))) throw new SessionError('createdAt', `"${createdAt}" is not a date`);
  const image = readImage(o.image);
  const boxes = capped(o.boxes, 'boxes', L.maxBoxes, 'regions').map((b, i) => readBox(b, `boxes[${i}]`));
  const budget = { floats: 0 };
  const panels = capped(o.panels, 'panels', L.maxPanels, 'panels').map((p, i) =>
    readPanel(p, `panels[${i}]`, image, budget),
  );
  const view = readView(o.view, 'view');
  checkViewAgainstPanels(view, panels);
  return { version: 1, createdAt, question: text(o.question, 'question'), image, boxes, panels, view };
}

/** An array of at most `max` entries (checked before any entry is read). */
function capped(v: unknown, path: string, max: number, what: string): unknown[] {
  const a = arr(v, path);
  if (a.length > max) throw new SessionError(path, `${a.length} ${what} is too many (accepted: at most ${max})`);
  return a;
}

/** A string of at most SESSION_LIMITS.maxTextChars characters. */
function text(v: unknown, path: string): string {
  const s = str(v, path);
  if (s.length > L.maxTextChars)
    throw new SessionError(path, `${s.length} characters is too long (accepted: at most ${L.maxTextChars})`);
  return s;
}

/** An integer in [min, max]. */
function bounded(v: unknown, path: string, min: number, max: number): number {
  const n = int(v, path, min);
  if (n > max) throw new SessionError(path, `${n} is above the maximum ${max}`);
  return n;
}

/** The view must point at something the panels hold: a captured layer, an existing head, an existing token. */
function checkViewAgainstPanels(view: ViewState, panels: SessionPanel[]): void {
  const steps = panels.flatMap((p) => p.steps);
  if (steps.length === 0) return;
  const layers = [...new Set(steps.flatMap((s) => s.layers))].sort((a, b) => a - b);
  if (layers.length > 0 && !layers.includes(view.layer)) {
    throw new SessionError('view.layer', `${view.layer} is not a captured layer (accepted: ${layers.join(', ')})`);
  }
  const heads = Math.max(...steps.map((s) => s.heads));
  if (view.head.kind === 'head' && view.head.head >= heads) {
    throw new SessionError('view.head.head', `${view.head.head} is not a head index (accepted: 0 to ${heads - 1})`);
  }
  const tokens = Math.max(...panels.map((p) => p.steps.length));
  if (typeof view.token === 'number' && view.token >= tokens) {
    throw new SessionError(
      'view.token',
      `${view.token} is not a token index (accepted: 0 to ${tokens - 1}, "all" or "selected")`,
    );
  }
}

function readImage(v: unknown): LensSession['image'] {
  const o = obj(v, 'image');
  const dataUrl = str(o.dataUrl, 'image.dataUrl');
  if (!dataUrl.startsWith('data:image/')) throw new SessionError('image.dataUrl', 'expected a data:image/… URL');
  const width = bounded(o.width, 'image.width', 1, L.maxImageSide);
  const height = bounded(o.height, 'image.height', 1, L.maxImageSide);
  if (width * height > L.maxImagePixels) {
    throw new SessionError(
      'image',
      `${width}×${height} is too many pixels (accepted: at most ${(L.maxImagePixels / 1e6).toFixed(1)} MP)`,
    );
  }
  let header;
  try {
    header = dataUrlImageHeader(dataUrl);
  } catch (e) {
    throw new SessionError('image.dataUrl', (e as Error).message);
  }
  if (header.width !== width || header.height !== height) {
    throw new SessionError('image', `declares ${width}×${height} but the image is ${header.width}×${header.height}`);
  }
  return { name: text(o.name, 'image.name'), width, height, dataUrl };
}

function readBox(v: unknown, path: string): Box {
  const a = arr(v, path);
  if (a.length !== 4) throw new SessionError(path, `expected [x1, y1, x2, y2], got ${a.length} numbers`);
  const b = a.map((x, i) => num(x, `${path}[${i}]`)) as Box;
  if (!(b[2] >= b[0] && b[3] >= b[1])) throw new SessionError(path, 'expected x1 ≤ x2 and y1 ≤ y2');
  return b;
}

function readSize(v: unknown, path: string): { width: number; height: number } {
  const o = obj(v, path);
  return {
    width: bounded(o.width, `${path}.width`, 1, L.maxImageSide),
    height: bounded(o.height, `${path}.height`, 1, L.maxImageSide),
  };
}

function readPrompt(v: unknown, path: string, image: { width: number; height: number }): PromptInfo {
  const o = obj(v, path);
  const img = readSize(o.image, `${path}.image`);
  if (img.width !== image.width || img.height !== image.height) {
    throw new SessionError(
      `${path}.image`,
      `${img.width}×${img.height} does not match the session image ${image.width}×${image.height}`,
    );
  }
  const thw = arr(o.gridThw, `${path}.gridThw`);
  if (thw.length !== 3) throw new SessionError(`${path}.gridThw`, `expected [t, h, w], got ${thw.length} numbers`);
  const grid = obj(o.grid, `${path}.grid`);
  const span = obj(o.imageSpan, `${path}.imageSpan`);
  const notice = opt(o.notice, `${path}.notice`, str);
  return {
    image: img,
    resized: readSize(o.resized, `${path}.resized`),
    gridThw: thw.map((x, i) => int(x, `${path}.gridThw[${i}]`, 1)) as [number, number, number],
    grid: readGrid(grid, `${path}.grid`),
    imageSpan: {
      start: int(span.start, `${path}.imageSpan.start`),
      length: int(span.length, `${path}.imageSpan.length`),
    },
    promptTokens: int(o.promptTokens, `${path}.promptTokens`),
    unknownWords: arr(o.unknownWords, `${path}.unknownWords`).map((w, i) => str(w, `${path}.unknownWords[${i}]`)),
    ...(notice === undefined ? {} : { notice }),
  };
}

function readGrid(grid: Record<string, unknown>, path: string): { rows: number; cols: number } {
  const rows = bounded(grid.rows, `${path}.rows`, 1, L.maxCells);
  const cols = bounded(grid.cols, `${path}.cols`, 1, L.maxCells);
  if (rows * cols > L.maxCells)
    throw new SessionError(path, `${rows}×${cols} is too many visual tokens (accepted: at most ${L.maxCells})`);
  return { rows, cols };
}

function readSummary(v: unknown, path: string): RunSummary {
  const o = obj(v, path);
  return {
    tokens: int(o.tokens, `${path}.tokens`),
    stoppedBy: oneOf(o.stoppedBy, `${path}.stoppedBy`, STOPPED_BY),
    text: str(o.text, `${path}.text`),
    prefillMs: num(o.prefillMs, `${path}.prefillMs`, 0),
    decodeMs: num(o.decodeMs, `${path}.decodeMs`, 0),
  };
}

/** Decodes a base64 float array, checks its length (one of `lengths`) and that every value is finite. */
function readFloats(v: unknown, path: string, lengths: number[]): Float32Array {
  let values: Float32Array;
  try {
    values = base64ToFloats(str(v, path));
  } catch (e) {
    if (e instanceof SessionError) throw e;
    throw new SessionError(path, `not a base64 float32 array: ${(e as Error).message}`);
  }
  if (!lengths.includes(values.length)) {
    throw new SessionError(path, `has ${values.length} values, expected ${[...new Set(lengths)].join(' or ')}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new SessionError(path, `value ${i} is ${values[i]} (not finite)`);
  }
  return values;
}

function readStep(v: unknown, path: string, n: number, budget: { floats: number }): StepRecord {
  const o = obj(v, path);
  const layers = capped(o.layers, `${path}.layers`, L.maxLayers, 'layers').map((l, i) =>
    bounded(l, `${path}.layers[${i}]`, 0, L.maxLayerId),
  );
  const heads = bounded(o.heads, `${path}.heads`, 0, L.maxHeads);
  const stepN = int(o.n, `${path}.n`);
  if (stepN !== n) throw new SessionError(`${path}.n`, `${stepN} does not match the prompt grid (${n} cells)`);
  const lh = layers.length * heads;
  budget.floats += lh * (n + 2);
  if (budget.floats > L.maxFloats) {
    throw new SessionError(
      path,
      `the session's attention exceeds ${L.maxFloats.toLocaleString('en')} values (the most a tab can hold here)`,
    );
  }
  return {
    index: int(o.index, `${path}.index`),
    tokenId: int(o.tokenId, `${path}.tokenId`),
    text: text(o.text, `${path}.text`),
    entropy: num(o.entropy, `${path}.entropy`, 0),
    layers,
    heads,
    n: stepN,
    attention: readFloats(o.attention, `${path}.attention`, [lh * n, 0]),
    imageShare: readFloats(o.imageShare, `${path}.imageShare`, [lh, 0]),
    rowSum: readFloats(o.rowSum, `${path}.rowSum`, [lh, 0]),
  };
}

function readPanel(
  v: unknown,
  path: string,
  image: { width: number; height: number },
  budget: { floats: number },
): SessionPanel {
  const o = obj(v, path);
  const prompt = readPrompt(o.prompt, `${path}.prompt`, image);
  const n = prompt.grid.rows * prompt.grid.cols;
  const steps = capped(o.steps, `${path}.steps`, L.maxSteps, 'tokens').map((s, i) =>
    readStep(s, `${path}.steps[${i}]`, n, budget),
  );
  steps.forEach((s, i) => {
    if (i === 0) return;
    if (s.index <= steps[i - 1].index) {
      throw new SessionError(`${path}.steps[${i}].index`, `${s.index} does not follow ${steps[i - 1].index}`);
    }
    if (s.layers.join() !== steps[0].layers.join()) {
      throw new SessionError(`${path}.steps[${i}].layers`, `[${s.layers}] differs from step 0's [${steps[0].layers}]`);
    }
    if (s.heads !== steps[0].heads)
      throw new SessionError(`${path}.steps[${i}].heads`, `${s.heads} differs from step 0's ${steps[0].heads}`);
  });
  const summary = opt(o.summary, `${path}.summary`, readSummary);
  return {
    side: oneOf(o.side, `${path}.side`, SIDES),
    modelId: text(o.modelId, `${path}.modelId`),
    modelName: text(o.modelName, `${path}.modelName`),
    prompt,
    steps,
    ...(summary === undefined ? {} : { summary }),
    source: oneOf(o.source, `${path}.source`, SOURCES),
  };
}

/** Reads a HeadMode object ({kind: 'mean' | 'max'} or {kind: 'head', head}). */
export function readHeadMode(v: unknown, path: string): HeadMode {
  const o = obj(v, path);
  const kind = oneOf(o.kind, `${path}.kind`, ['mean', 'max', 'head'] as const);
  return kind === 'head' ? { kind, head: bounded(o.head, `${path}.head`, 0, L.maxHeads - 1) } : { kind };
}

/**
 * Validates a view state.
 * @throws SessionError naming the field
 */
export function readView(v: unknown, path: string): ViewState {
  const o = obj(v, path);
  const token =
    o.token === 'all' || o.token === 'selected'
      ? o.token
      : typeof o.token === 'string'
        ? oneOf(o.token, `${path}.token`, ['all', 'selected'] as const)
        : bounded(o.token, `${path}.token`, 0, L.maxSteps - 1);
  return {
    token,
    layer: bounded(o.layer, `${path}.layer`, 0, L.maxLayerId),
    head: readHeadMode(o.head, `${path}.head`),
    norm: oneOf(o.norm, `${path}.norm`, NORMS),
    opacity: num(o.opacity, `${path}.opacity`, 0, 1),
    colorBy: oneOf(o.colorBy, `${path}.colorBy`, COLOR_BY),
  };
}
