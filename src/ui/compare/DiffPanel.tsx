/**
 * @file trained − base: the reward differences (r_v, a_q, v_q, image share) and the difference heatmap of the
 * current view on a diverging scale (when both panels share a grid).
 */
import { useCallback, useRef } from 'react';
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
  const canvasRef = useRef<HTMLCanvasElement | null>(null);
  const sameGrid = base.grid.rows === trained.grid.rows && base.grid.cols === trained.grid.cols;
  const diff = useCallback(() => {
    if (!sameGrid || !base.values || !trained.values) return null;
    const scale = divergingScale([differenceMap(trained.values, base.values)]);
    const canvas = renderDiffHeatmap(
      { image, grid: trained.grid, base: base.values, trained: trained.values, boxes, coverage: trained.coverage ?? undefined },
      { scale, width: HEATMAP_WIDTH, opacity, pixelRatio: window.devicePixelRatio || 1, canvas: canvasRef.current ?? undefined },
    );
    canvasRef.current = canvas;
    canvas.dataset.testid = 'heatmap-diff';
    const wrap = document.createElement('div');
    wrap.append(canvas, renderLegend(scale, { width: 260 }));
    return wrap;
  }, [sameGrid, base, trained, image, boxes, opacity]);
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
      {sameGrid ? <Chart render={diff} className="diff-map" /> : <p className="hint">The panels have different grids: no difference map.</p>}
    </section>
  );
}
