/**
 * @file The attention heatmap over the ORIGINAL image, drawn on a canvas: one rectangle per visual token, placed
 * with the core's `cellRect` (the processor's non-square grid mapped back to original pixels), coloured by
 * `colorFor` on a shared scale, at a chosen opacity, with the covered cells of the key regions outlined and the
 * boxes on top. Drawing is split into a pure, testable plan (`heatmapPlan`: integer device-pixel rects + colours)
 * and a thin painter (`drawHeatmap`). Cell edges are precomputed once per (grid, width, pixel ratio) and shared
 * between neighbours (no seams); the painter writes one pixel per cell into a small bitmap and stretches it with
 * nearest-neighbour sampling, which lands exactly on the plan's rects, so a redraw costs one small upload and
 * one drawImage instead of n fillRects. The regions (covered-cell outlines and boxes) can also be drawn on their own
 * onto a transparent canvas laid over the heatmap (`renderHeatmapRegions`), so a box edit redraws only that overlay.
 */
import { cellRect, type Box, type Grid } from '../../core/geometry.ts';
import { cellBitmap } from './cellBitmap.ts';
import { setAttr } from './dom.ts';
import { colorFor, type ColorScale } from './scale.ts';

/** What a heatmap shows. */
export interface HeatmapData {
  /** The original image (drawn underneath, stretched to the canvas); omitted or not yet loaded → a neutral background. */
  image?: CanvasImageSource | null;
  grid: Grid;
  /** One value per visual token (raster order), already normalised for the scale (see `normalizeFor`). */
  values: Float32Array;
  /** Key regions in original-image pixels. */
  boxes?: readonly Box[];
  /** Fraction of each cell covered by the regions (core `cellCoverage`); covered cells are outlined. */
  coverage?: Float32Array;
}

/** How a heatmap is drawn. */
export interface HeatmapOptions {
  scale: ColorScale;
  /** CSS width in pixels; the height follows the image's aspect ratio. */
  width: number;
  /** Heat layer opacity in [0, 1] (default 0.6). */
  opacity?: number;
  /** Device pixels per CSS pixel (pass `devicePixelRatio`; default 1). */
  pixelRatio?: number;
  /** A canvas to redraw into instead of creating one (the fast path while scrubbing tokens). */
  canvas?: HTMLCanvasElement;
  /** Accessible name of the canvas. */
  label?: string;
}

/** Device-pixel geometry of a heatmap: integer cell edges shared by neighbouring cells. */
export interface HeatmapLayout {
  /** Canvas size in device pixels. */
  width: number;
  height: number;
  /** Device pixels per CSS pixel. */
  pixelRatio: number;
  /** Device pixels per original-image pixel, per axis. */
  sx: number;
  sy: number;
  /** cols + 1 column edges and rows + 1 row edges, in device pixels. */
  colEdges: Int32Array;
  rowEdges: Int32Array;
}

/** A filled cell, outlined cell or box, in device pixels. */
export interface PlanRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The regions' part of a plan: covered cells (outline), then boxes (stroke). */
export interface HeatmapRegionsPlan {
  layout: HeatmapLayout;
  /** Covered cells with their outline alpha (0.35 + 0.65 × coverage). */
  covered: (PlanRect & { k: number; alpha: number })[];
  boxes: PlanRect[];
}

/** Everything the painter does, in order: cells (fill), covered cells (outline), boxes (stroke). */
export interface HeatmapPlan extends HeatmapRegionsPlan {
  opacity: number;
  cells: (PlanRect & { k: number; rgb: [number, number, number] })[];
}

/** What the region overlay shows: the grid, the boxes and the covered cells (a heatmap's data without values). */
export type HeatmapRegions = Pick<HeatmapData, 'grid' | 'boxes' | 'coverage'>;

/** How the region overlay is drawn: a heatmap's size options. */
export type HeatmapRegionsOptions = Pick<HeatmapOptions, 'width' | 'pixelRatio' | 'canvas'>;

/** Drawing defaults. */
export const HEATMAP_DEFAULTS = {
  opacity: 0.6,
  pixelRatio: 1,
  background: '#1f2430',
  boxColor: '#22d3ee',
  boxHalo: 'rgba(0, 0, 0, 0.75)',
  boxWidth: 2,
  coverageColor: '255, 255, 255',
} as const;

const layoutCache = new WeakMap<Grid, Map<string, HeatmapLayout>>();

/**
 * Device-pixel layout of a grid drawn `width` CSS pixels wide. Memoised per grid object (the grid of a panel does
 * not change while tokens are scrubbed).
 */
export function heatmapLayout(
  grid: Grid,
  width: number,
  pixelRatio: number = HEATMAP_DEFAULTS.pixelRatio,
): HeatmapLayout {
  if (!(width > 0) || !(pixelRatio > 0))
    throw new RangeError(`heatmap width and pixel ratio must be positive, got ${width}, ${pixelRatio}`);
  const key = `${width}@${pixelRatio}`;
  let byKey = layoutCache.get(grid);
  const hit = byKey?.get(key);
  if (hit) return hit;
  const w = Math.max(1, Math.round(width * pixelRatio));
  const h = Math.max(1, Math.round((width * pixelRatio * grid.image.height) / grid.image.width));
  const sx = w / grid.image.width;
  const sy = h / grid.image.height;
  const colEdges = new Int32Array(grid.cols + 1);
  for (let c = 0; c < grid.cols; c++) colEdges[c] = Math.round(cellRect(c, grid).x * sx);
  colEdges[grid.cols] = w;
  const rowEdges = new Int32Array(grid.rows + 1);
  for (let r = 0; r < grid.rows; r++) rowEdges[r] = Math.round(cellRect(r * grid.cols, grid).y * sy);
  rowEdges[grid.rows] = h;
  const layout = { width: w, height: h, pixelRatio, sx, sy, colEdges, rowEdges };
  if (!byKey) layoutCache.set(grid, (byKey = new Map()));
  byKey.set(key, layout);
  return layout;
}

/**
 * The drawing plan of the regions alone (pure; no DOM): the covered cells' outlines and the boxes, in the same
 * device pixels as {@link heatmapPlan}'s.
 * @throws RangeError when `coverage` does not have one entry per grid cell
 */
export function heatmapRegionsPlan(
  data: HeatmapRegions,
  options: Pick<HeatmapOptions, 'width' | 'pixelRatio'>,
): HeatmapRegionsPlan {
  const { grid, boxes = [], coverage } = data;
  const n = grid.rows * grid.cols;
  if (coverage && coverage.length !== n)
    throw new RangeError(`coverage holds ${coverage.length} entries, expected ${n}`);
  const layout = heatmapLayout(grid, options.width, options.pixelRatio);
  const { colEdges, rowEdges, sx, sy } = layout;
  const covered: HeatmapPlan['covered'] = [];
  if (coverage) {
    for (let k = 0; k < n; k++) {
      if (!(coverage[k] > 0)) continue;
      const r = (k / grid.cols) | 0;
      const c = k - r * grid.cols;
      const x = colEdges[c];
      const y = rowEdges[r];
      covered.push({
        k,
        x,
        y,
        w: colEdges[c + 1] - x,
        h: rowEdges[r + 1] - y,
        alpha: 0.35 + 0.65 * Math.min(1, coverage[k]),
      });
    }
  }
  const planBoxes = boxes.map(([x1, y1, x2, y2]) => {
    const x = Math.round(Math.max(0, x1) * sx);
    const y = Math.round(Math.max(0, y1) * sy);
    return {
      x,
      y,
      w: Math.round(Math.min(grid.image.width, x2) * sx) - x,
      h: Math.round(Math.min(grid.image.height, y2) * sy) - y,
    };
  });
  return { layout, covered, boxes: planBoxes.filter((b) => b.w > 0 && b.h > 0) };
}

/**
 * The exact drawing plan of a heatmap (pure; no DOM).
 * @throws RangeError when `values` / `coverage` do not have one entry per grid cell
 */
export function heatmapPlan(data: HeatmapData, options: HeatmapOptions): HeatmapPlan {
  const { grid, values } = data;
  const n = grid.rows * grid.cols;
  if (values.length !== n)
    throw new RangeError(`heatmap values hold ${values.length} entries, the ${grid.rows}×${grid.cols} grid has ${n}`);
  const regions = heatmapRegionsPlan(data, options);
  const { colEdges, rowEdges } = regions.layout;
  const cells: HeatmapPlan['cells'] = new Array(n);
  for (let k = 0; k < n; k++) {
    const r = (k / grid.cols) | 0;
    const c = k - r * grid.cols;
    cells[k] = {
      k,
      x: colEdges[c],
      y: rowEdges[r],
      w: colEdges[c + 1] - colEdges[c],
      h: rowEdges[r + 1] - rowEdges[r],
      rgb: colorFor(values[k], options.scale),
    };
  }
  const opacity = Math.min(1, Math.max(0, options.opacity ?? HEATMAP_DEFAULTS.opacity));
  return { ...regions, opacity, cells };
}

/** False for an <img> that has not loaded or failed to decode (drawImage would draw nothing or throw). */
function isDrawable(image: CanvasImageSource): boolean {
  if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement)
    return image.complete && image.naturalWidth > 0;
  return true;
}

/** Paints a plan onto a 2-D context whose canvas has the plan's size. */
export function drawHeatmap(ctx: CanvasRenderingContext2D, plan: HeatmapPlan, image?: CanvasImageSource | null): void {
  const { width, height } = plan.layout;
  ctx.save();
  ctx.globalAlpha = 1;
  ctx.fillStyle = HEATMAP_DEFAULTS.background;
  ctx.fillRect(0, 0, width, height);
  if (image && isDrawable(image)) ctx.drawImage(image, 0, 0, width, height);
  ctx.globalAlpha = plan.opacity;
  ctx.imageSmoothingEnabled = false;
  // One pixel per cell stretched with nearest-neighbour sampling covers exactly the plan's rects (checked pixel by
  // pixel in Chromium: src/ui/export/browser.test.ts).
  ctx.drawImage(
    cellBitmap(ctx.canvas, plan.layout.colEdges.length - 1, plan.layout.rowEdges.length - 1, plan.cells, 'heatmap'),
    0,
    0,
    width,
    height,
  );
  ctx.globalAlpha = 1;
  drawRegions(ctx, plan);
  ctx.restore();
}

/** Strokes the covered cells' outlines, then the boxes (halo, then colour), at full opacity. */
function drawRegions(ctx: CanvasRenderingContext2D, plan: HeatmapRegionsPlan): void {
  const pr = plan.layout.pixelRatio;
  const lw = Math.max(1, Math.round(pr));
  ctx.lineWidth = lw;
  let style = '';
  for (const c of plan.covered) {
    const next = `rgba(${HEATMAP_DEFAULTS.coverageColor}, ${c.alpha.toFixed(3)})`;
    // Most covered cells are covered whole (the same colour): set it only when it changes.
    if (next !== style) ctx.strokeStyle = style = next;
    ctx.strokeRect(c.x + lw / 2, c.y + lw / 2, c.w - lw, c.h - lw);
  }
  const bw = HEATMAP_DEFAULTS.boxWidth * Math.max(1, pr);
  for (const b of plan.boxes) {
    ctx.lineWidth = bw + 2;
    ctx.strokeStyle = HEATMAP_DEFAULTS.boxHalo;
    ctx.strokeRect(b.x + bw / 2, b.y + bw / 2, b.w - bw, b.h - bw);
    ctx.lineWidth = bw;
    ctx.strokeStyle = HEATMAP_DEFAULTS.boxColor;
    ctx.strokeRect(b.x + bw / 2, b.y + bw / 2, b.w - bw, b.h - bw);
  }
}

/** Paints a regions plan onto a 2-D context whose canvas has the plan's size: cleared, then outlines and boxes. */
export function drawHeatmapRegions(ctx: CanvasRenderingContext2D, plan: HeatmapRegionsPlan): void {
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.globalAlpha = 1;
  ctx.clearRect(0, 0, plan.layout.width, plan.layout.height);
  drawRegions(ctx, plan);
  ctx.restore();
}

/**
 * Sizes a canvas to a layout in device pixels and styles it to `width` CSS pixels; what already has its value is not
 * set again (a redraw into the same canvas then changes no attribute, so no style or layout work follows).
 */
function sizeCanvas(canvas: HTMLCanvasElement, layout: HeatmapLayout, width: number): void {
  if (canvas.width !== layout.width) canvas.width = layout.width;
  if (canvas.height !== layout.height) canvas.height = layout.height;
  const w = `${width}px`;
  const h = `${layout.height / layout.pixelRatio}px`;
  if (canvas.style.width !== w) canvas.style.width = w;
  if (canvas.style.height !== h) canvas.style.height = h;
}

/**
 * Renders (or re-renders into `options.canvas`) the heatmap and returns the canvas. The canvas is sized in device
 * pixels and styled to `width` CSS pixels.
 * @throws RangeError for mismatched data lengths; Error when the browser gives no 2-D context
 */
export function renderHeatmap(data: HeatmapData, options: HeatmapOptions): HTMLCanvasElement {
  const plan = heatmapPlan(data, options);
  const canvas = options.canvas ?? document.createElement('canvas');
  sizeCanvas(canvas, plan.layout, options.width);
  setAttr(canvas, 'role', 'img');
  setAttr(canvas, 'aria-label', options.label ?? 'attention heatmap');
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2-D canvas context; the heatmap cannot be drawn');
  drawHeatmap(ctx, plan, data.image);
  return canvas;
}

/**
 * Renders (or re-renders into `options.canvas`) the regions alone — covered-cell outlines and boxes on a transparent
 * canvas of the heatmap's size — and returns the canvas. Laid exactly over a heatmap drawn without boxes and
 * coverage, it shows what {@link renderHeatmap} draws with them; a box edit then redraws only this canvas.
 * @throws RangeError for a coverage of the wrong length; Error when the browser gives no 2-D context
 */
export function renderHeatmapRegions(data: HeatmapRegions, options: HeatmapRegionsOptions): HTMLCanvasElement {
  const plan = heatmapRegionsPlan(data, options);
  const canvas = options.canvas ?? document.createElement('canvas');
  sizeCanvas(canvas, plan.layout, options.width);
  setAttr(canvas, 'aria-hidden', 'true');
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2-D canvas context; the regions cannot be drawn');
  drawHeatmapRegions(ctx, plan);
  return canvas;
}
