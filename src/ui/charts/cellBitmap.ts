/**
 * @file A chart's cells as a bitmap of one pixel per cell, kept per target canvas and refilled on each draw. Stretched
 * onto the canvas with nearest-neighbour sampling it covers exactly the cells' rects at a fraction of the cost of one
 * fillRect per cell (the heatmap and the head matrix both draw this way).
 */

interface CellBitmap {
  canvas: HTMLCanvasElement;
  ctx: CanvasRenderingContext2D;
  image: ImageData;
}
const bitmaps = new WeakMap<object, CellBitmap>();

/**
 * The cells as a cols × rows bitmap for `target` (reused while its size stays the same): cells[i] is the pixel of
 * raster index i.
 * @param what the chart's name, for the error when the browser gives no 2-D context
 */
export function cellBitmap(
  target: object,
  cols: number,
  rows: number,
  cells: readonly { rgb: readonly number[] }[],
  what: string,
): HTMLCanvasElement {
  let b = bitmaps.get(target);
  if (!b || b.image.width !== cols || b.image.height !== rows) {
    const canvas = document.createElement('canvas');
    canvas.width = cols;
    canvas.height = rows;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error(`this browser gives no 2-D canvas context; the ${what} cannot be drawn`);
    b = { canvas, ctx, image: ctx.createImageData(cols, rows) };
    bitmaps.set(target, b);
  }
  const data = b.image.data;
  for (let k = 0; k < cells.length; k++) {
    const rgb = cells[k].rgb;
    const i = k * 4;
    data[i] = rgb[0];
    data[i + 1] = rgb[1];
    data[i + 2] = rgb[2];
    data[i + 3] = 255;
  }
  b.ctx.putImageData(b.image, 0, 0);
  return b.canvas;
}
