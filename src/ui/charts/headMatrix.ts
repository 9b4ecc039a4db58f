/**
 * @file "Which heads look where": a layers × heads matrix of R_a per captured layer and head, for one model
 * (sequential scale) or for the trained − base difference (diverging scale), drawn on a canvas. As with the heatmap,
 * drawing is a pure, testable plan (`headMatrixPlan`: cell rects, colours, labels, outlines) and a thin painter
 * (`drawHeadMatrix`). A click, or Enter / Space on the keyboard cursor (arrow keys), picks a head
 * (`onPick(layer, head)`); hovering names the cell; the canvas's accessible name summarises the matrix.
 * `headMatrixRa` reads the matrix from a panel's core RewardCache (cached per-(layer, head) sums: a box edit costs
 * O(L·H·|targets|), not a pass over the raw attention).
 */
import type { RewardCache } from '../../core/cache.ts';
import type { Alignment } from '../../core/reward.ts';
import { cellBitmap } from './cellBitmap.ts';
import { colorFor, formatValue, type ColorScale } from './scale.ts';

/** A layers × heads matrix, layer-major: values[li · heads + h]. */
export interface HeadMatrixData {
  values: ArrayLike<number>;
  /** The decoder layer ids of the rows. */
  layers: readonly number[];
  heads: number;
}

/** Options of {@link renderHeadMatrix}. */
export interface HeadMatrixOptions {
  scale: ColorScale;
  /** Cell side in CSS pixels (default 18). */
  cell?: number;
  /** The head currently shown, outlined. */
  picked?: { layer: number; head: number } | null;
  /** Makes the matrix pickable: a click on a cell, or Enter / Space on the keyboard cursor, picks that (layer, head). */
  onPick?: (layer: number, head: number) => void;
  /** Accessible name, e.g. "R_a per head, SAYO-mini". */
  label?: string;
  /** Device pixels per CSS pixel (pass `devicePixelRatio`; default 1). */
  pixelRatio?: number;
}

/**
 * R_a of every captured (layer, head) over the given tokens: a and v are averaged over the tokens (as a_q and v_q
 * are for r_v), then scored; for a single token this is that head's R_a (core `RewardCache.headRa`).
 * @param cache the panel's reward cache (state `panelCache`)
 * @param layers the decoder layer ids of the capture, in its order
 * @param targets the region's target tokens (core `boxToTokens`)
 * @param tokens indices of the tokens to use (e.g. [picked], all, or the top-entropy selection)
 * @param alignment which attention row a token owns (default 'produced')
 * @throws RangeError when there is no token, no target or no row for the tokens
 */
export function headMatrixRa(
  cache: RewardCache,
  layers: readonly number[],
  targets: Int32Array,
  tokens: readonly number[],
  alignment?: Alignment,
): HeadMatrixData {
  if (layers.length !== cache.layers)
    throw new RangeError(`${layers.length} layer ids for a capture of ${cache.layers} layers`);
  return { values: Float32Array.from(cache.headRa(targets, tokens, { alignment })), layers, heads: cache.heads };
}

/** Element-wise trained − base of two matrices with the same layers and heads. */
export function headMatrixDiff(trained: HeadMatrixData, base: HeadMatrixData): HeadMatrixData {
  if (trained.heads !== base.heads || trained.layers.join() !== base.layers.join()) {
    throw new RangeError(
      `head matrices differ in shape: layers [${trained.layers}] × ${trained.heads} vs [${base.layers}] × ${base.heads}`,
    );
  }
  const values = Float32Array.from({ length: trained.values.length }, (_, i) => trained.values[i] - base.values[i]);
  return { values, layers: trained.layers, heads: trained.heads };
}

/** Matrix defaults: cell side and label margins (CSS px), outline colours of the picked head and of the keyboard cursor, the labels' ink (the page's --muted) and font. */
export const HEAD_MATRIX_DEFAULTS = {
  cell: 18,
  left: 34,
  top: 16,
  pickedStroke: '#f472b6',
  cursorStroke: '#111827',
  labelColor: '#374151',
  font: '10px system-ui, sans-serif',
} as const;

/** CSS-pixel geometry of a matrix: cells of `cell − 1` px with a 1 px gap, labels left and above. */
export interface HeadMatrixLayout {
  /** Canvas size in CSS pixels. */
  width: number;
  height: number;
  cell: number;
  left: number;
  top: number;
  rows: number;
  heads: number;
}

/** One cell as drawn: CSS-pixel rect, colour, what it stands for. */
export interface HeadMatrixCell {
  index: number;
  layer: number;
  head: number;
  value: number;
  x: number;
  y: number;
  size: number;
  rgb: [number, number, number];
}

/** Everything the painter draws, in order: cells, labels, the picked head's outline, the keyboard cursor. */
export interface HeadMatrixPlan {
  layout: HeadMatrixLayout;
  cells: HeadMatrixCell[];
  rowLabels: { x: number; y: number; text: string }[];
  colLabels: { x: number; y: number; text: string }[];
  /** Index of the picked head's cell, or -1. */
  picked: number;
  /** Index of the keyboard cursor's cell, or -1. */
  cursor: number;
}

/** The layout of a layers × heads matrix. */
export function headMatrixLayout(
  rows: number,
  heads: number,
  cell: number = HEAD_MATRIX_DEFAULTS.cell,
): HeadMatrixLayout {
  const { left, top } = HEAD_MATRIX_DEFAULTS;
  return { width: left + heads * cell + 2, height: top + rows * cell + 2, cell, left, top, rows, heads };
}

/** The cell index under a CSS-pixel point of the canvas, or -1 outside the cells (labels, gaps count as the cell). */
export function headMatrixCellAt(layout: HeadMatrixLayout, x: number, y: number): number {
  const c = Math.floor((x - layout.left) / layout.cell);
  const r = Math.floor((y - layout.top) / layout.cell);
  if (c < 0 || r < 0 || c >= layout.heads || r >= layout.rows) return -1;
  return r * layout.heads + c;
}

/** The cell an arrow key moves the cursor to (clamped at the edges), or null for another key. */
export function headMatrixMove(layout: HeadMatrixLayout, index: number, key: string): number | null {
  const move: Record<string, [number, number]> = {
    ArrowLeft: [0, -1],
    ArrowRight: [0, 1],
    ArrowUp: [-1, 0],
    ArrowDown: [1, 0],
  };
  const delta = move[key];
  if (!delta) return null;
  const r = Math.min(layout.rows - 1, Math.max(0, Math.floor(index / layout.heads) + delta[0]));
  const c = Math.min(layout.heads - 1, Math.max(0, (index % layout.heads) + delta[1]));
  return r * layout.heads + c;
}

/** "layer 4, head 0: 0.9" — a cell in words (hover title and keyboard announcement). */
export function headMatrixCellText(data: HeadMatrixData, index: number): string {
  return `layer ${data.layers[Math.floor(index / data.heads)]}, head ${index % data.heads}: ${formatValue(data.values[index])}`;
}

/** The accessible name of a drawn matrix: its label, its shape, its highest and lowest cell. */
export function headMatrixSummary(data: HeadMatrixData, label: string): string {
  let hi = -1;
  let lo = -1;
  for (let i = 0; i < data.values.length; i++) {
    const v = data.values[i];
    if (!Number.isFinite(v)) continue;
    if (hi < 0 || v > data.values[hi]) hi = i;
    if (lo < 0 || v < data.values[lo]) lo = i;
  }
  const shape = `${data.layers.length} layers × ${data.heads} heads`;
  return hi < 0
    ? `${label}: ${shape}, no finite value`
    : `${label}: ${shape}; highest ${headMatrixCellText(data, hi)}; lowest ${headMatrixCellText(data, lo)}`;
}

/**
 * The exact drawing plan of a matrix (pure; no DOM).
 * @throws RangeError when `values` do not hold one entry per layer and head
 */
export function headMatrixPlan(data: HeadMatrixData, options: HeadMatrixOptions, cursor = -1): HeadMatrixPlan {
  const { layers, heads, values } = data;
  if (values.length !== layers.length * heads) {
    throw new RangeError(
      `head matrix holds ${values.length} values, expected ${layers.length} layers × ${heads} heads`,
    );
  }
  const layout = headMatrixLayout(layers.length, heads, options.cell);
  const { cell, left, top } = layout;
  const cells: HeadMatrixCell[] = new Array(values.length);
  let picked = -1;
  for (let i = 0; i < values.length; i++) {
    const li = Math.floor(i / heads);
    const head = i - li * heads;
    const layer = layers[li];
    cells[i] = {
      index: i,
      layer,
      head,
      value: values[i],
      x: left + head * cell,
      y: top + li * cell,
      size: cell - 1,
      rgb: colorFor(values[i], options.scale),
    };
    if (options.picked && options.picked.layer === layer && options.picked.head === head) picked = i;
  }
  const colLabels = Array.from({ length: heads }, (_, h) => ({
    x: left + h * cell + cell / 2,
    y: top - 4,
    text: String(h),
  }));
  const rowLabels = layers.map((l, li) => ({ x: left - 4, y: top + li * cell + cell / 2 + 3.5, text: `L${l}` }));
  return { layout, cells, rowLabels, colLabels, picked, cursor: cursor >= 0 && cursor < cells.length ? cursor : -1 };
}

/**
 * Paints a plan onto a 2-D context whose canvas is `layout × pixelRatio` device pixels. The cells are one small
 * bitmap stretched with nearest-neighbour sampling (one pixel per cell onto the cell's pitch), then the 1 px gaps
 * are cleared: a few dozen canvas calls instead of one fill per cell. With `labels: false` only the cells' area is
 * cleared and redrawn (cells, gaps, outlines) and the row and column labels already on the canvas are kept: text is
 * the dearest part of a redraw, and the labels depend only on the matrix's shape.
 */
export function drawHeadMatrix(
  ctx: CanvasRenderingContext2D,
  plan: HeadMatrixPlan,
  pixelRatio = 1,
  { labels = true }: { labels?: boolean } = {},
): void {
  const { width, height, left, top, cell, heads, rows } = plan.layout;
  ctx.save();
  ctx.setTransform(pixelRatio, 0, 0, pixelRatio, 0, 0);
  if (labels) ctx.clearRect(0, 0, width, height);
  else ctx.clearRect(left, top, heads * cell, rows * cell);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cellBitmap(ctx.canvas, heads, rows, plan.cells, 'head matrix'), left, top, heads * cell, rows * cell);
  for (let h = 1; h <= heads; h++) ctx.clearRect(left + h * cell - 1, top, 1, rows * cell);
  for (let r = 1; r <= rows; r++) ctx.clearRect(left, top + r * cell - 1, heads * cell, 1);
  if (labels) {
    ctx.fillStyle = HEAD_MATRIX_DEFAULTS.labelColor;
    ctx.font = HEAD_MATRIX_DEFAULTS.font;
    ctx.textAlign = 'center';
    for (const t of plan.colLabels) ctx.fillText(t.text, t.x, t.y);
    ctx.textAlign = 'end';
    for (const t of plan.rowLabels) ctx.fillText(t.text, t.x, t.y);
  }
  const outline = (index: number, color: string, dash: number[]) => {
    const c = plan.cells[index];
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.setLineDash(dash);
    ctx.strokeRect(c.x + 1, c.y + 1, c.size - 2, c.size - 2);
  };
  if (plan.picked >= 0) outline(plan.picked, HEAD_MATRIX_DEFAULTS.pickedStroke, []);
  if (plan.cursor >= 0) outline(plan.cursor, HEAD_MATRIX_DEFAULTS.cursorStroke, [3, 2]);
  ctx.restore();
}

/** What a drawn canvas shows now (read by its listeners, so an in-place redraw can replace data and handler). */
interface Drawn {
  data: HeadMatrixData;
  options: HeadMatrixOptions;
  plan: HeadMatrixPlan;
  pixelRatio: number;
}
const drawn = new WeakMap<HTMLCanvasElement, Drawn>();

/**
 * Redraws a canvas from its stored state with the keyboard cursor at `cursor`; the labels only on a canvas drawn for
 * the first time (a redraw in place keeps them: they depend only on the shape, which it shares).
 */
function repaint(canvas: HTMLCanvasElement, d: Drawn, cursor: number, labels = false): void {
  d.plan = headMatrixPlan(d.data, d.options, cursor);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2-D canvas context; the head matrix cannot be drawn');
  drawHeadMatrix(ctx, d.plan, d.pixelRatio, { labels });
  const label = d.options.label ?? 'R_a per layer and head';
  canvas.setAttribute(
    'aria-label',
    cursor >= 0 ? `${headMatrixCellText(d.data, cursor)} (Enter shows this head)` : headMatrixSummary(d.data, label),
  );
}

/** The cell index under a mouse event, or -1. */
function cellOfEvent(canvas: HTMLCanvasElement, layout: HeadMatrixLayout, e: MouseEvent): number {
  const r = canvas.getBoundingClientRect();
  if (!(r.width > 0 && r.height > 0)) return -1;
  return headMatrixCellAt(
    layout,
    ((e.clientX - r.left) * layout.width) / r.width,
    ((e.clientY - r.top) * layout.height) / r.height,
  );
}

/** A new canvas with the pointer (hover title, click) and keyboard (arrows, Enter, Space) listeners. */
function buildCanvas(shape: string, pickable: boolean): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.className = 'sayo-head-matrix';
  canvas.setAttribute('data-shape', shape);
  canvas.setAttribute('role', 'img');
  if (!pickable) return canvas;
  canvas.tabIndex = 0;
  canvas.setAttribute('aria-roledescription', 'head matrix: arrow keys move, Enter shows a head');
  canvas.addEventListener('mousemove', (e) => {
    const d = drawn.get(canvas);
    const i = d ? cellOfEvent(canvas, d.plan.layout, e) : -1;
    const title = d && i >= 0 ? headMatrixCellText(d.data, i) : '';
    if (canvas.title !== title) canvas.title = title;
    canvas.style.cursor = i >= 0 ? 'pointer' : '';
  });
  canvas.addEventListener('click', (e) => {
    const d = drawn.get(canvas);
    const i = d ? cellOfEvent(canvas, d.plan.layout, e) : -1;
    if (d && i >= 0) d.options.onPick?.(d.plan.cells[i].layer, d.plan.cells[i].head);
  });
  canvas.addEventListener('keydown', (e) => {
    const d = drawn.get(canvas);
    if (!d) return;
    const at = d.plan.cursor >= 0 ? d.plan.cursor : Math.max(0, d.plan.picked);
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      d.options.onPick?.(d.plan.cells[at].layer, d.plan.cells[at].head);
      return;
    }
    const next = headMatrixMove(d.plan.layout, at, e.key);
    if (next === null) return;
    e.preventDefault();
    repaint(canvas, d, next);
  });
  canvas.addEventListener('blur', () => {
    const d = drawn.get(canvas);
    if (d && d.plan.cursor >= 0) repaint(canvas, d, -1);
  });
  return canvas;
}

/**
 * Renders the matrix on a `<canvas>` with row labels (L<layer>) and column labels (head index). With `onPick` the
 * canvas is focusable: hovering a cell names it (title), clicking it or Enter / Space on the keyboard cursor (arrow
 * keys) picks that head. Given the canvas it drew last time (`into`) for the same layers, heads, cell size and
 * clickability, it redraws that canvas in place (the cells, not the labels): a box edit touches no DOM beyond one
 * canvas and its label.
 * @throws RangeError for a values length that is not layers × heads; Error when the browser gives no 2-D context
 */
export function renderHeadMatrix(
  data: HeadMatrixData,
  options: HeadMatrixOptions,
  into?: Element | null,
): HTMLCanvasElement {
  const { cell = HEAD_MATRIX_DEFAULTS.cell, onPick } = options;
  const pixelRatio = options.pixelRatio ?? 1;
  const shape = `${data.layers.join(',')}|${data.heads}|${cell}|${pixelRatio}|${onPick ? 'pick' : 'view'}`;
  const reuse =
    typeof HTMLCanvasElement !== 'undefined' &&
    into instanceof HTMLCanvasElement &&
    into.getAttribute('data-shape') === shape;
  const canvas = reuse ? (into as HTMLCanvasElement) : buildCanvas(shape, !!onPick);
  const previous = drawn.get(canvas);
  const d: Drawn = { data, options, pixelRatio, plan: headMatrixPlan(data, options) };
  const { width, height } = d.plan.layout;
  if (!reuse) {
    canvas.width = Math.round(width * pixelRatio);
    canvas.height = Math.round(height * pixelRatio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  drawn.set(canvas, d);
  const cursor =
    previous && typeof document !== 'undefined' && document.activeElement === canvas ? previous.plan.cursor : -1;
  repaint(canvas, d, cursor, !reuse);
  return canvas;
}
