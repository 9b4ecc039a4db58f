/**
 * @file One panel's heatmap over the original image (the session helper's `renderHeatmap`, redrawn into the same
 * canvas when the map, scale, image, opacity or width change), the regions (covered-cell outlines and boxes) on a
 * canvas laid over it (redrawn alone on a box edit), and the shared region editor on top, as wide as its panel allows.
 */
import { useEffect, useRef, useState } from 'react';
import { renderHeatmap, renderHeatmapRegions } from '../charts/heatmap.ts';
import type { ColorScale } from '../charts/scale.ts';
import { useLens } from '../../state/store.ts';
import type { Side } from '../../session/types.ts';
import type { PanelData } from '../compare/useCompare.ts';
import { RegionEditor } from '../regions/RegionEditor.tsx';
import { fitWidth, useWidth } from '../useWidth.ts';

/** Name of the performance measure recorded for every heatmap redraw (the heat layer, or on a box edit the regions). */
export const HEATMAP_MEASURE = 'sayo:heatmap-draw';

/** Width of a heatmap before its host is measured (and in non-browser tests), in CSS pixels. */
export const HEATMAP_WIDTH = 420;

/** Tallest a heatmap gets, as a share of the window height (the reward above it stays on screen). */
const MAX_HEIGHT_SHARE = 0.62;

/** The heatmap of one side. */
export function HeatmapView({
  data,
  scale,
  image,
  side,
}: {
  data: PanelData;
  scale: ColorScale;
  image: HTMLImageElement | null;
  side: Side;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);
  const host = useRef<HTMLDivElement>(null);
  const available = useWidth(host, HEATMAP_WIDTH);
  const width = fitWidth(
    available,
    data.grid.image,
    (typeof window === 'undefined' ? 900 : window.innerHeight) * MAX_HEIGHT_SHARE,
  );
  const boxes = useLens((s) => s.boxes);
  const opacity = useLens((s) => s.view.opacity);
  const [failure, setFailure] = useState<string | null>(null);
  const { values, grid, coverage } = data;
  // The heat layer: image and cells (not redrawn by a box edit, which keeps the values and the scale).
  useEffect(() => {
    if (!canvas.current || !values) return;
    try {
      const start = performance.now();
      renderHeatmap(
        { image, grid, values },
        {
          scale,
          width,
          opacity,
          pixelRatio: window.devicePixelRatio || 1,
          canvas: canvas.current,
          label: `${side} model attention over the image`,
        },
      );
      // Visible in DevTools' performance panel; the benchmarks read it.
      performance.measure(HEATMAP_MEASURE, { start, end: performance.now() });
      setFailure(null);
    } catch (e) {
      setFailure(`The heatmap could not be drawn: ${(e as Error).message}`);
    }
  }, [values, grid, scale, image, opacity, side, width]);
  // The regions over it: covered-cell outlines and boxes.
  useEffect(() => {
    if (!overlay.current) return;
    try {
      const start = performance.now();
      renderHeatmapRegions(
        { grid, boxes, coverage: coverage ?? undefined },
        { width, pixelRatio: window.devicePixelRatio || 1, canvas: overlay.current },
      );
      performance.measure(HEATMAP_MEASURE, { start, end: performance.now() });
    } catch (e) {
      setFailure(`The regions could not be drawn: ${(e as Error).message}`);
    }
  }, [grid, boxes, coverage, width]);
  return (
    <div className="heatmap-host" ref={host}>
      <div className="heatmap-wrap" style={{ width }}>
        <canvas
          ref={canvas}
          data-testid={`heatmap-${side}`}
          data-domain={scale.domain.join(',')}
          data-scale-mode={scale.mode}
        />
        <canvas ref={overlay} className="heatmap-regions" />
        <RegionEditor image={data.grid.image} testId={side === 'base' ? 'region-layer' : `region-layer-${side}`} />
        {failure ? <p className="notice">{failure}</p> : null}
      </div>
    </div>
  );
}
