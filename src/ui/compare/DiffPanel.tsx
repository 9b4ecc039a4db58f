/**
 * @file trained − base: the reward differences (r_v, a_q, v_q, image share) and the difference heatmap of the
 * current view on a diverging scale (when both panels share a grid).
 */
import { useCallback, useEffect, useMemo, useRef } from 'react';
import { panelImageShare } from '../../state/derive.ts';
import { useLens } from '../../state/store.ts';
import { differenceMap, renderDiffHeatmap } from '../charts/diffHeatmap.ts';
import { renderHeatmapRegions } from '../charts/heatmap.ts';
import { renderLegend } from '../charts/legend.ts';
import { divergingScale } from '../charts/scale.ts';
import { DECIMALS, fixed, signed } from '../format.ts';
import { fitWidth, useWidth } from '../useWidth.ts';
import { useWhileVisible } from '../useWhileVisible.ts';
import { Chart } from '../Chart.tsx';
import { HEATMAP_WIDTH } from '../panel/HeatmapView.tsx';
import type { PanelData } from './useCompare.ts';

/** Decimals of each row's figures. */
const ROW_DECIMALS: Record<string, number> = {
  r_v: DECIMALS.reward,
  a_q: DECIMALS.attention,
  v_q: DECIMALS.attention,
  'image share': DECIMALS.share,
};

/** The token a panel shows, as text for the comparison note ("#3 “red”"). */
function tokenText(d: PanelData): string | null {
  return typeof d.token === 'number' ? `#${d.token} “${d.panel.steps[d.token]?.text ?? ''}”` : null;
}

/** Whether the difference map's inputs are an update of the same drawing: same grid, maps present on both sides. */
function sameDrawing(
  kept: { base: unknown; trained: unknown; grid: unknown },
  next: { base: unknown; trained: unknown; grid: unknown },
): boolean {
  return kept.grid === next.grid && !!kept.base === !!next.base && !!kept.trained === !!next.trained;
}

/** The difference row. */
export function DiffPanel({
  base,
  trained,
  image,
}: {
  base: PanelData;
  trained: PanelData;
  image: HTMLImageElement | null;
}) {
  const boxes = useLens((s) => s.boxes);
  // What the map and its regions are drawn from, kept while the section is away from the viewport and only the
  // values or the regions change (drawn when it comes near; the table follows every change).
  const [watch, drawn] = useWhileVisible(
    { base: base.values, trained: trained.values, grid: trained.grid, coverage: trained.coverage, boxes },
    sameDrawing,
  );
  const opacity = useLens((s) => s.view.opacity);
  const canvas = useRef<HTMLCanvasElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);
  const host = useRef<HTMLDivElement>(null);
  const width = fitWidth(
    useWidth(host, HEATMAP_WIDTH),
    trained.grid.image,
    (typeof window === 'undefined' ? 900 : window.innerHeight) * 0.62,
  );
  const bt = tokenText(base);
  const tt = tokenText(trained);
  const differ =
    bt !== null &&
    tt !== null &&
    (base.token !== trained.token ||
      base.panel.steps[base.token as number]?.tokenId !== trained.panel.steps[trained.token as number]?.tokenId);
  const sameGrid = base.grid.rows === trained.grid.rows && base.grid.cols === trained.grid.cols;
  const diffMap = useMemo(
    () => (sameGrid && drawn.base && drawn.trained ? differenceMap(drawn.trained, drawn.base) : null),
    [sameGrid, drawn.base, drawn.trained],
  );
  const scale = useMemo(() => (diffMap ? divergingScale([diffMap]) : null), [diffMap]);
  // Redrawn into one canvas (no new element while scrubbing tokens); the regions on a canvas over it (all a box edit
  // redraws); the legend only when its range changes.
  useEffect(() => {
    if (!canvas.current || !scale || !drawn.base || !drawn.trained) return;
    try {
      renderDiffHeatmap(
        { image, grid: drawn.grid, base: drawn.base, trained: drawn.trained },
        { scale, width, opacity, pixelRatio: window.devicePixelRatio || 1, canvas: canvas.current },
      );
    } catch {
      // No 2-D canvas (non-browser environment): the table above still shows the differences.
    }
  }, [scale, drawn.base, drawn.trained, drawn.grid, image, opacity, width]);
  const shown = !!scale;
  useEffect(() => {
    if (!overlay.current || !shown) return;
    try {
      renderHeatmapRegions(
        { grid: drawn.grid, boxes: drawn.boxes, coverage: drawn.coverage ?? undefined },
        { width, pixelRatio: window.devicePixelRatio || 1, canvas: overlay.current },
      );
    } catch {
      // As above: no 2-D canvas.
    }
  }, [shown, drawn.grid, drawn.coverage, drawn.boxes, width]);
  const legendKey = scale ? scale.domain[1].toPrecision(2) : '';
  const legendScale = useRef(scale);
  legendScale.current = scale;
  const legend = useCallback(
    (previous: Element | null) =>
      legendScale.current ? renderLegend(legendScale.current, { width: 260 }, previous) : null,
    [legendKey],
  );
  const rows: [string, number | null, number | null][] = [
    ['r_v', base.reward?.r_v ?? null, trained.reward?.r_v ?? null],
    ['a_q', base.reward?.a_q ?? null, trained.reward?.a_q ?? null],
    ['v_q', base.reward?.v_q ?? null, trained.reward?.v_q ?? null],
    ['image share', panelImageShare(base.panel, base.layer), panelImageShare(trained.panel, trained.layer)],
  ];
  return (
    <section className="diff" aria-label="Trained minus base" ref={watch}>
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
              <td>{fixed(b, ROW_DECIMALS[name])}</td>
              <td>{fixed(t, ROW_DECIMALS[name])}</td>
              <td>{b === null || t === null ? '—' : signed(t - b, ROW_DECIMALS[name])}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {bt !== null && tt !== null ? (
        <p className={differ ? 'notice' : 'hint'} data-testid="diff-tokens" data-differ={differ ? 'true' : 'false'}>
          {differ
            ? `Different tokens: base ${bt} vs trained ${tt}. The map compares unrelated tokens; Cross-score to compare both models on identical tokens.`
            : `Same token in both: base ${bt}, trained ${tt}.`}
        </p>
      ) : null}
      {sameGrid && scale ? (
        <div className="diff-map heatmap-host" ref={host}>
          <div className="heatmap-wrap" style={{ width }}>
            <canvas ref={canvas} data-testid="heatmap-diff" />
            <canvas ref={overlay} className="heatmap-regions" />
          </div>
          <Chart render={legend} />
        </div>
      ) : (
        <p className="hint">
          {sameGrid ? 'No attention to compare.' : 'The panels have different grids: no difference map.'}
        </p>
      )}
    </section>
  );
}
