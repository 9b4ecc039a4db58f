/**
 * @file One panel's heatmap over the original image (the session helper's `renderHeatmap`, redrawn into the same
 * canvas on every change) with the shared region editor on top, as wide as its panel allows.
 */
import { useEffect, useRef, useState } from 'react';
import { renderHeatmap } from '../charts/heatmap';
import type { ColorScale } from '../charts/scale';
import { useLens } from '../../state/store';
import type { Side } from '../../session/types';
import type { PanelData } from '../compare/useCompare';
import { RegionEditor } from '../regions/RegionEditor';
import { fitWidth, useWidth } from '../useWidth';

/** Name of the performance measure recorded for every heatmap redraw. */
export const HEATMAP_MEASURE = 'sayo:heatmap-draw';

/** Width of a heatmap before its host is measured (and in non-browser tests), in CSS pixels. */
export const HEATMAP_WIDTH = 420;

/** Tallest a heatmap gets, as a share of the window height (the reward above it stays on screen). */
const MAX_HEIGHT_SHARE = 0.62;

/** The heatmap of one side. */
export function HeatmapView({ data, scale, image, side }: { data: PanelData; scale: ColorScale; image: HTMLImageElement | null; side: Side }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const host = useRef<HTMLDivElement>(null);
  const available = useWidth(host, HEATMAP_WIDTH);
  const width = fitWidth(available, data.grid.image, (typeof window === 'undefined' ? 900 : window.innerHeight) * MAX_HEIGHT_SHARE);
  const boxes = useLens((s) => s.boxes);
  const opacity = useLens((s) => s.view.opacity);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    if (!canvas.current || !data.values) return;
    try {
      const start = performance.now();
      renderHeatmap(
      { image, grid: data.grid, values: data.values, boxes, coverage: data.coverage ?? undefined },
      {
        scale,
        width,
        opacity,
        pixelRatio: window.devicePixelRatio || 1,
        canvas: canvas.current,
        label: `${side} model attention over the image`,
      },
      );
      // Visible in DevTools' performance panel; the redraw benchmark reads it.
      performance.measure(HEATMAP_MEASURE, { start, end: performance.now() });
      setFailure(null);
    } catch (e) {
      setFailure(`The heatmap could not be drawn: ${(e as Error).message}`);
    }
  }, [data, scale, image, boxes, opacity, side, width]);
  return (
    <div className="heatmap-host" ref={host}>
    <div className="heatmap-wrap" style={{ width }}>
      <canvas ref={canvas} data-testid={`heatmap-${side}`} data-domain={scale.domain.join(',')} data-scale-mode={scale.mode} />
      <RegionEditor image={data.grid.image} testId={side === 'base' ? 'region-layer' : `region-layer-${side}`} />
      {failure ? <p className="notice">{failure}</p> : null}
    </div>
    </div>
  );
}
