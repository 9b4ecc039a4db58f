/**
 * @file Visual-token geometry of Qwen2/2.5/3-VL: the processor's smart_resize, the grid of visual tokens it yields,
 * and the mapping of key-region boxes (original-image pixels) to the tokens they cover.
 *
 * Conventions (models/CONTRACT.md, "Visual-token geometry"):
 * - smart_resize mirrors transformers.js `smart_resize` (image_processors_utils.js) exactly, including its
 *   `Math.round` (half up) and the up-scaling of images smaller than one cell.
 * - The grid has rows = H'/f × cols = W'/f tokens, f = patch_size × merge_size, in raster order:
 *   token k ↔ row ⌊k/cols⌋, column k mod cols, covering resized pixels [c·f, (c+1)·f) × [r·f, (r+1)·f).
 * - A box [x1, y1, x2, y2] is first clipped to the image, then scaled to the resized image by x·(W'/W), y·(H'/H)
 *   (the scale computed once, in this float order, exactly as the trainer's geometry.py does, so that boxes on a
 *   cell edge fall on the same side in both);
 *   a token is a target when its cell overlaps the scaled box with positive area. Several boxes: union.
 */

/** A key region [x1, y1, x2, y2] in original-image pixels (x1 < x2, y1 < y2 after clipping). */
export type Box = [number, number, number, number];

/** Width and height in pixels. */
export interface Size {
  width: number;
  height: number;
}

/** The geometry fields of a Qwen2-VL `preprocessor_config.json`. */
export interface ProcessorGeometry {
  /** Vision patch side in pixels (14 for Qwen2/2.5-VL, 16 for Qwen3-VL). */
  patch_size: number;
  /** Patches merged per side into one LLM visual token (2). */
  merge_size: number;
  /** Lower bound of H'·W' in pixels. */
  min_pixels: number;
  /** Upper bound of H'·W' in pixels. */
  max_pixels: number;
}

/** The visual-token grid of one image. */
export interface Grid {
  /** Visual-token rows: resized.height / cell. */
  rows: number;
  /** Visual-token columns: resized.width / cell. */
  cols: number;
  /** Pixels per token side in the resized image: patch_size × merge_size (28 or 32). */
  cell: number;
  /** The processor's resized image size. */
  resized: Size;
  /** The original image size. */
  image: Size;
}

/** A rectangle in pixels: top-left corner and size. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Invalid geometry: a bad image size, an aspect ratio above 200, or a box that selects nothing. */
export class GeometryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GeometryError';
  }
}

/** Largest aspect ratio the Qwen processors accept. */
export const MAX_ASPECT_RATIO = 200;

function requirePositive(value: number, what: string): void {
  if (!Number.isFinite(value) || value <= 0) throw new GeometryError(`${what} must be a positive number, got ${value}`);
}

/**
 * Qwen2-VL smart_resize, exactly as transformers.js computes it: both sides become multiples of `factor`, the area
 * lies within [minPixels, maxPixels] and the aspect ratio is kept as closely as possible.
 * @param height original height in pixels
 * @param width original width in pixels
 * @param factor patch_size × merge_size (28 for Qwen2/2.5-VL, 32 for Qwen3-VL)
 * @throws GeometryError for non-positive sizes or an aspect ratio above 200
 */
export function smartResize(
  height: number,
  width: number,
  factor: number,
  minPixels: number,
  maxPixels: number,
): { height: number; width: number } {
  requirePositive(height, 'image height');
  requirePositive(width, 'image width');
  requirePositive(factor, 'factor');
  requirePositive(maxPixels, 'max_pixels');
  if (!Number.isFinite(minPixels) || minPixels < 0) throw new GeometryError(`min_pixels must be ≥ 0, got ${minPixels}`);
  let h = height;
  let w = width;
  if (h < factor || w < factor) {
    const scale = Math.max(factor / h, factor / w);
    h = Math.round(h * scale);
    w = Math.round(w * scale);
  }
  const aspect = Math.max(h, w) / Math.min(h, w);
  if (!(aspect <= MAX_ASPECT_RATIO)) {
    throw new GeometryError(
      `aspect ratio must be at most ${MAX_ASPECT_RATIO}, got ${Number(aspect.toFixed(3))} (${width}×${height})`,
    );
  }
  let hBar = Math.round(h / factor) * factor;
  let wBar = Math.round(w / factor) * factor;
  if (hBar * wBar > maxPixels) {
    const beta = Math.sqrt((h * w) / maxPixels);
    hBar = Math.max(factor, Math.floor(h / beta / factor) * factor);
    wBar = Math.max(factor, Math.floor(w / beta / factor) * factor);
  } else if (hBar * wBar < minPixels) {
    const beta = Math.sqrt(minPixels / (h * w));
    hBar = Math.ceil((h * beta) / factor) * factor;
    wBar = Math.ceil((w * beta) / factor) * factor;
  }
  return { height: hBar, width: wBar };
}

/**
 * The visual-token grid the processor yields for an image of this size.
 * Agrees with `image_grid_thw = [1, rows·merge, cols·merge]` of transformers.js's Qwen2VLImageProcessor.
 * @throws GeometryError for invalid sizes or processor fields, or an aspect ratio above 200
 */
export function gridFor(image: Size, proc: ProcessorGeometry): Grid {
  requirePositive(image.width, 'image width');
  requirePositive(image.height, 'image height');
  if (!Number.isInteger(proc.patch_size) || proc.patch_size <= 0) {
    throw new GeometryError(`patch_size must be a positive integer, got ${proc.patch_size}`);
  }
  if (!Number.isInteger(proc.merge_size) || proc.merge_size <= 0) {
    throw new GeometryError(`merge_size must be a positive integer, got ${proc.merge_size}`);
  }
  const cell = proc.patch_size * proc.merge_size;
  const resized = smartResize(image.height, image.width, cell, proc.min_pixels, proc.max_pixels);
  return {
    rows: resized.height / cell,
    cols: resized.width / cell,
    cell,
    resized: { width: resized.width, height: resized.height },
    image: { width: image.width, height: image.height },
  };
}

/**
 * The grid from the processor's own `image_grid_thw = [t, h, w]` (in patches), for when it is at hand
 * (engine prompts); equal to {@link gridFor} whenever the processor follows smart_resize.
 * @throws GeometryError when h or w is not a positive multiple of merge_size
 */
export function gridFromThw(
  image: Size,
  thw: readonly [number, number, number] | readonly number[],
  proc: ProcessorGeometry,
): Grid {
  const [, h, w] = thw;
  const m = proc.merge_size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0 && h % m === 0 && w % m === 0)) {
    throw new GeometryError(`image_grid_thw [${thw.join(', ')}] is not a positive multiple of merge_size ${m}`);
  }
  const cell = proc.patch_size * m;
  return {
    rows: h / m,
    cols: w / m,
    cell,
    resized: { width: w * proc.patch_size, height: h * proc.patch_size },
    image: { width: image.width, height: image.height },
  };
}

function boxLabel(box: readonly number[], index?: number): string {
  const where = index === undefined ? 'box' : `box ${index}`;
  return `${where} [${box.join(', ')}]`;
}

/** Throws GeometryError unless the box has four finite numbers with x1 ≤ x2 and y1 ≤ y2. */
function checkBoxShape(box: readonly number[], label: string): void {
  if (box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new GeometryError(`${label}: expected four finite numbers [x1, y1, x2, y2]`);
  }
  if (box[2] < box[0] || box[3] < box[1]) {
    throw new GeometryError(`${label}: expected x1 ≤ x2 and y1 ≤ y2`);
  }
}

/**
 * Clips a box to the image [0, width] × [0, height].
 * @returns the clipped box, or null when nothing of positive area remains (zero-area box, or wholly outside)
 */
export function clipBox(box: Box, image: Size): Box | null {
  const x1 = Math.max(0, Math.min(image.width, box[0]));
  const y1 = Math.max(0, Math.min(image.height, box[1]));
  const x2 = Math.max(0, Math.min(image.width, box[2]));
  const y2 = Math.max(0, Math.min(image.height, box[3]));
  if (!(x2 > x1 && y2 > y1)) return null;
  return [x1, y1, x2, y2];
}

/** A clipped box scaled to resized-image pixels. */
interface ScaledBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Validates, clips and scales every box; throws GeometryError naming the first box that selects nothing. */
function scaledBoxes(boxes: readonly Box[], grid: Grid): ScaledBox[] {
  const { image, resized } = grid;
  const sx = resized.width / image.width;
  const sy = resized.height / image.height;
  return boxes.map((box, i) => {
    const label = boxLabel(box, boxes.length > 1 ? i : undefined);
    checkBoxShape(box, label);
    if (box[2] === box[0] || box[3] === box[1]) throw new GeometryError(`${label}: zero area`);
    const clipped = clipBox(box, image);
    if (clipped === null) {
      throw new GeometryError(`${label}: lies wholly outside the ${image.width}×${image.height} image`);
    }
    return { x1: clipped[0] * sx, y1: clipped[1] * sy, x2: clipped[2] * sx, y2: clipped[3] * sy };
  });
}

/** Half-open index range [start, end) of cells along one axis that overlap (lo, hi) with positive length. */
function cellSpan(lo: number, hi: number, cell: number, count: number): [number, number] {
  const start = Math.max(0, Math.floor(lo / cell));
  const end = Math.min(count, Math.ceil(hi / cell));
  return [start, end];
}

/**
 * The target visual tokens of one or more boxes: every token whose cell overlaps a (clipped, scaled) box with
 * positive area, as a sorted union in raster order.
 * @throws GeometryError naming the box when a box has zero area or lies wholly outside the image
 */
export function boxToTokens(boxes: readonly Box[], grid: Grid): Int32Array {
  const mark = new Uint8Array(grid.rows * grid.cols);
  for (const b of scaledBoxes(boxes, grid)) {
    const [c0, c1] = cellSpan(b.x1, b.x2, grid.cell, grid.cols);
    const [r0, r1] = cellSpan(b.y1, b.y2, grid.cell, grid.rows);
    for (let r = r0; r < r1; r++) mark.fill(1, r * grid.cols + c0, r * grid.cols + c1);
  }
  let count = 0;
  for (let k = 0; k < mark.length; k++) count += mark[k];
  const out = new Int32Array(count);
  let j = 0;
  for (let k = 0; k < mark.length; k++) if (mark[k]) out[j++] = k;
  return out;
}

/** Area of the union of axis-aligned rectangles (coordinate compression; fine for a handful of boxes). */
function unionArea(rects: ScaledBox[]): number {
  if (rects.length === 1) return (rects[0].x2 - rects[0].x1) * (rects[0].y2 - rects[0].y1);
  const xs = [...new Set(rects.flatMap((r) => [r.x1, r.x2]))].sort((a, b) => a - b);
  const ys = [...new Set(rects.flatMap((r) => [r.y1, r.y2]))].sort((a, b) => a - b);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    const mx = (xs[i] + xs[i + 1]) / 2;
    for (let j = 0; j + 1 < ys.length; j++) {
      const my = (ys[j] + ys[j + 1]) / 2;
      if (rects.some((r) => r.x1 <= mx && mx <= r.x2 && r.y1 <= my && my <= r.y2)) {
        area += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j]);
      }
    }
  }
  return area;
}

/**
 * Fraction of each cell (in [0, 1]) covered by the union of the boxes, for display. A cell is a target token
 * exactly when its coverage is positive.
 * @throws GeometryError like {@link boxToTokens}
 */
export function cellCoverage(boxes: readonly Box[], grid: Grid): Float32Array {
  return Float32Array.from(cellCoverage64(boxes, grid));
}

/** {@link cellCoverage} in float64 (for exact parity with the trainer's fixtures). */
export function cellCoverage64(boxes: readonly Box[], grid: Grid): Float64Array {
  const { rows, cols, cell } = grid;
  const pieces = new Map<number, ScaledBox[]>();
  for (const b of scaledBoxes(boxes, grid)) {
    const [c0, c1] = cellSpan(b.x1, b.x2, cell, cols);
    const [r0, r1] = cellSpan(b.y1, b.y2, cell, rows);
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++) {
        const piece = {
          x1: Math.max(b.x1, c * cell),
          y1: Math.max(b.y1, r * cell),
          x2: Math.min(b.x2, (c + 1) * cell),
          y2: Math.min(b.y2, (r + 1) * cell),
        };
        if (piece.x2 <= piece.x1 || piece.y2 <= piece.y1) continue;
        const k = r * cols + c;
        const list = pieces.get(k);
        if (list) list.push(piece);
        else pieces.set(k, [piece]);
      }
    }
  }
  const out = new Float64Array(rows * cols);
  for (const [k, list] of pieces) out[k] = Math.min(1, unionArea(list) / (cell * cell));
  return out;
}

/**
 * The rectangle of token k's cell in ORIGINAL image pixels (for drawing heatmaps over the image).
 * @throws RangeError when k is not a token of the grid
 */
export function cellRect(k: number, grid: Grid): Rect {
  if (!Number.isInteger(k) || k < 0 || k >= grid.rows * grid.cols) {
    throw new RangeError(`token ${k} is outside the ${grid.rows}×${grid.cols} grid`);
  }
  const r = Math.floor(k / grid.cols);
  const c = k % grid.cols;
  const sx = grid.image.width / grid.resized.width;
  const sy = grid.image.height / grid.resized.height;
  const x = c * grid.cell * sx;
  const y = r * grid.cell * sy;
  return { x, y, width: (c + 1) * grid.cell * sx - x, height: (r + 1) * grid.cell * sy - y };
}

/** The token under an original-image pixel position, or -1 outside the image. */
export function tokenAt(x: number, y: number, grid: Grid): number {
  if (!(x >= 0 && y >= 0 && x < grid.image.width && y < grid.image.height)) return -1;
  const c = Math.min(grid.cols - 1, Math.floor((x * grid.resized.width) / grid.image.width / grid.cell));
  const r = Math.min(grid.rows - 1, Math.floor((y * grid.resized.height) / grid.image.height / grid.cell));
  return r * grid.cols + c;
}
