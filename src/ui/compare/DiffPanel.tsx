/**
 * @file trained − base: the reward differences (r_v, a_q, v_q, image share) and the difference heatmap of the
 * current view on a diverging scale (when both panels share a grid).
 */
import { useCallback, useEffect, useMemo, useRef } from 'react';
import { panelImageShare } from '../../state/derive';
import { useLens } from '../../state/store';
import { differenceMap, renderDiffHeatmap } from '../charts/diffHeatmap';
import { renderLegend } from '../charts/legend';
import { divergingScale, formatValue } from '../charts/scale';
import { Chart } from '../Chart';
import { HEATMAP_WIDTH } from '../panel/HeatmapView';
import type { PanelData } from './useCompare';

const sign = (v: number) => (v > 0 ? '+' : '') + formatValue(v);

/** The difference row. */
export function DiffPanel({ base, trained, image }: { base: PanelData; trained: PanelData; image: HTMLImageElement | null }) {
  const boxes = useLens((s) => s.boxes);
  const opacity = useLens((s) => s.view.opacity);
  const canvas = useRef<HTMLCanvasElement>(null);
  const sameGrid = base.grid.rows === trained.grid.rows && base.grid.cols === trained.grid.cols;
  const diffMap = useMemo(
    () => (sameGrid && base.values && trained.values ? differenceMap(trained.values, base.values) : null),
    [sameGrid, base.values, trained.values],
  );
  const scale = useMemo(() => (diffMap ? divergingScale([diffMap]) : null), [diffMap]);
  // Redrawn into one canvas (no new element while scrubbing tokens); the legend only when its range changes.
  useEffect(() => {
    if (!canvas.current || !scale || !base.values || !trained.values) return;
    try {
      renderDiffHeatmap(
        { image, grid: trained.grid, base: base.values, trained: trained.values, boxes, coverage: trained.coverage ?? undefined },
        { scale, width: HEATMAP_WIDTH, opacity, pixelRatio: window.devicePixelRatio || 1, canvas: canvas.current },
      );
    } catch {
      // No 2-D canvas (non-browser environment): the table above still shows the differences.
    }
  }, [scale, base.values, trained.values, trained.grid, trained.coverage, image, boxes, opacity]);
  const legendKey = scale ? scale.domain[1].toPrecision(2) : '';
  const legendScale = useRef(scale);
  legendScale.current = scale;
  const legend = useCallback(() => (legendScale.current ? renderLegend(legendScale.current, { width: 260 }) : null), [legendKey]);
  const rows: [string, number | null, number | null][] = [
    ['r_v', base.reward?.r_v ?? null, trained.reward?.r_v ?? null],
    ['a_q', base.reward?.a_q ?? null, trained.reward?.a_q ?? null],
    ['v_q', base.reward?.v_q ?? null, trained.reward?.v_q ?? null],
    ['image share', panelImageShare(base.panel, base.layer), panelImageShare(trained.panel, trained.layer)],
  ];
  return (
    <section className="diff" aria-label="Trained minus base">
      <h2>Trained − base</h2>
      <table data-testid="reward-diff">
        <thead>
          <tr>
            <th scope="col">metric</th>
            <th scope="col">base</th>
            <th scope="col">trained</th>
            <th scope="col">trained − base</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([name, b, t]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>{b === null ? '—' : formatValue(b)}</td>
              <td>{t === null ? '—' : formatValue(t)}</td>
              <td>{b === null || t === null ? '—' : sign(t - b)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {sameGrid && scale ? (
        <div className="diff-map">
          <div className="heatmap-wrap" style={{ width: HEATMAP_WIDTH }}>
            <canvas ref={canvas} data-testid="heatmap-diff" />
          </div>
          <Chart render={legend} />
        </div>
      ) : (
        <p className="hint">{sameGrid ? 'No attention to compare.' : 'The panels have different grids: no difference map.'}</p>
      )}
    </section>
  );
}
