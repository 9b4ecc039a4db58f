/**
 * @file One panel's heatmap over the original image (the session helper's `renderHeatmap`, redrawn into the same
 * canvas on every change) with the shared region editor on top.
 */
import { useEffect, useRef, useState } from 'react';
import { renderHeatmap } from '../charts/heatmap';
import type { ColorScale } from '../charts/scale';
import { useLens } from '../../state/store';
import type { Side } from '../../session/types';
import type { PanelData } from '../compare/useCompare';
import { RegionEditor } from '../regions/RegionEditor';

/** Name of the performance measure recorded for every heatmap redraw. */
export const HEATMAP_MEASURE = 'sayo:heatmap-draw';

/** Width of a panel's heatmap in CSS pixels. */
export const HEATMAP_WIDTH = 420;

/** The heatmap of one side. */
export function HeatmapView({ data, scale, image, side }: { data: PanelData; scale: ColorScale; image: HTMLImageElement | null; side: Side }) {
  const canvas = useRef<HTMLCanvasElement>(null);
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
        width: HEATMAP_WIDTH,
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
  }, [data, scale, image, boxes, opacity, side]);
  return (
    <div className="heatmap-wrap" style={{ width: HEATMAP_WIDTH }}>
      <canvas ref={canvas} data-testid={`heatmap-${side}`} data-domain={scale.domain.join(',')} data-scale-mode={scale.mode} />
      <RegionEditor image={data.grid.image} testId={side === 'base' ? 'region-layer' : `region-layer-${side}`} />
      {failure ? <p className="notice">{failure}</p> : null}
    </div>
  );
}
