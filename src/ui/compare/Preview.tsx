/**
 * @file Before any answer: the image with the region editor and the visual-token cells the regions cover, on the
 * grid the loaded model's processor will use (so the regions can be set up before running).
 */
import { useEffect, useMemo, useRef } from 'react';
import { gridFor, type Grid } from '../../core/geometry.ts';
import { targetsFor } from '../../state/derive.ts';
import { useLens } from '../../state/store.ts';
import type { LoadedImage } from '../../state/slices/input.ts';
import { renderHeatmap } from '../charts/heatmap.ts';
import { sharedScale } from '../charts/scale.ts';
import { DEFAULT_PROCESSOR } from '../input/loadImage.ts';
import { HEATMAP_WIDTH } from '../panel/HeatmapView.tsx';
import { useImageElement } from '../panel/useImage.ts';
import { RegionEditor } from '../regions/RegionEditor.tsx';

/** The preview of the current image. */
export function Preview({ image }: { image: LoadedImage }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const img = useImageElement(image.dataUrl);
  const boxes = useLens((s) => s.boxes);
  const proc = useLens((s) => s.status.base.info?.processor ?? s.status.trained.info?.processor ?? DEFAULT_PROCESSOR);
  const grid = useMemo<Grid | null>(() => {
    try {
      return gridFor(image, proc);
    } catch {
      return null;
    }
  }, [image, proc]);
  const cover = useMemo(() => (grid ? targetsFor(boxes, grid) : null), [grid, boxes]);
  useEffect(() => {
    if (!canvas.current || !grid || !img) return;
    const values = new Float32Array(grid.rows * grid.cols);
    try {
      renderHeatmap(
        { image: img, grid, values, boxes, coverage: cover?.coverage ?? undefined },
        {
          scale: sharedScale([values], 'raw'),
          width: HEATMAP_WIDTH,
          opacity: 0,
          pixelRatio: window.devicePixelRatio || 1,
          canvas: canvas.current,
          label: `Input image ${image.name}`,
        },
      );
    } catch {
      // A canvas-less environment keeps the plain layout; nothing to draw.
    }
  }, [grid, img, boxes, cover, image.name]);
  const covered = cover?.targets?.length ?? 0;
  return (
    <div className="preview">
      <div className="heatmap-wrap" style={{ width: HEATMAP_WIDTH }}>
        <canvas
          ref={canvas}
          data-testid="preview"
          style={{ width: HEATMAP_WIDTH, aspectRatio: `${image.width} / ${image.height}` }}
        />
        <RegionEditor image={image} testId="region-layer" />
      </div>
      <p className="hint">
        {grid ? `${grid.cols}×${grid.rows} visual tokens (w×h); the regions cover ${covered}. ` : ''}
        {cover?.error ? (
          <span className="notice">{cover.error}</span>
        ) : (
          'Draw key regions here (or press N on the image), then Run.'
        )}
      </p>
    </div>
  );
}
