/**
 * @file The trained − base difference map over the original image: element-wise difference of the two panels'
 * (identically normalised) maps, drawn by the heatmap painter with a diverging scale centred on 0
 * (red: the trained model attends more, blue: less).
 */
import type { Box, Grid } from '../../core/geometry.ts';
import { renderHeatmap, type HeatmapOptions } from './heatmap.ts';
import { divergingScale, type ColorScale } from './scale.ts';

/** What a difference heatmap shows. */
export interface DiffHeatmapData {
  image?: CanvasImageSource | null;
  grid: Grid;
  /** The two panels' maps over the same grid, normalised the same way (e.g. `normalizeFor` with one shared scale). */
  base: Float32Array;
  trained: Float32Array;
  boxes?: readonly Box[];
  coverage?: Float32Array;
}

/** Options of {@link renderDiffHeatmap}; `scale` defaults to a diverging scale over ±max |difference|. */
export type DiffHeatmapOptions = Omit<HeatmapOptions, 'scale'> & { scale?: ColorScale };

/**
 * trained − base, element-wise.
 * @throws RangeError when the maps differ in length (the panels must share the grid: cross-score or same image)
 */
export function differenceMap(trained: Float32Array, base: Float32Array): Float32Array {
  if (trained.length !== base.length) {
    throw new RangeError(
      `cannot subtract maps of ${base.length} and ${trained.length} cells: the panels do not share a grid`,
    );
  }
  const out = new Float32Array(trained.length);
  for (let k = 0; k < out.length; k++) out[k] = trained[k] - base[k];
  return out;
}

/**
 * Renders trained − base on a diverging scale and returns the canvas. For its legend, pass the same scale to
 * `renderLegend` (build it with `divergingScale([differenceMap(trained, base)])` when not given).
 */
export function renderDiffHeatmap(data: DiffHeatmapData, options: DiffHeatmapOptions): HTMLCanvasElement {
  const values = differenceMap(data.trained, data.base);
  const scale = options.scale ?? divergingScale([values]);
  return renderHeatmap(
    { image: data.image, grid: data.grid, values, boxes: data.boxes, coverage: data.coverage },
    { ...options, scale, label: options.label ?? 'trained − base attention difference' },
  );
}
