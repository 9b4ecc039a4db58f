/**
 * @file Which heads look where: a layers × heads matrix of R_a per model (over the tokens the view shows) and the
 * trained − base difference (the heads RL changed). Clicking a cell shows that layer's head in both heatmaps.
 */
import { useCallback, useMemo, useRef } from 'react';
import { panelCache, viewTokens } from '../../state/derive.ts';
import { useLens } from '../../state/store.ts';
import { headMatrixDiff, headMatrixRa, renderHeadMatrix, type HeadMatrixData } from '../charts/headMatrix.ts';
import { divergingScale } from '../charts/scale.ts';
import { raScale } from '../raScale.ts';
import { Chart } from '../Chart.tsx';
import { useWhileVisible } from '../useWhileVisible.ts';
import { renderLegend } from '../charts/legend.ts';
import type { CompareData, PanelData } from './useCompare.ts';

/** The matrix over an aggregate: the r_v tokens when the view shows them, else all tokens. */
function matrixOf(d: PanelData | undefined, aggregate: 'all' | 'selected'): HeadMatrixData | null {
  if (!d || !d.targets || !d.map) return null;
  const tokens = viewTokens(aggregate, d.panel.steps.length, d.selected);
  const cache = panelCache(d.panel.steps);
  // A one-token answer has no row to score under the input alignment (token t owns row t + 1).
  const rows = d.alignment === 'input' ? d.panel.steps.length - 1 : d.panel.steps.length;
  if (!cache || tokens.length === 0 || rows === 0) return null;
  return headMatrixRa(cache, d.panel.steps[0].layers, d.targets, tokens, d.alignment);
}

/** The panel data, kept identical while only its map changes (same panel, targets and selection). */
function useStable(d: PanelData | undefined): PanelData | undefined {
  const ref = useRef(d);
  const cur = ref.current;
  const same =
    cur &&
    d &&
    cur.panel === d.panel &&
    cur.targets === d.targets &&
    cur.selected === d.selected &&
    cur.alignment === d.alignment &&
    !!cur.map === !!d.map;
  if (!same) ref.current = d;
  return ref.current;
}

/** Whether `next` only updates `kept` (same panels and alignment, same sides with a box and a map): e.g. a box edit. */
function sameMatrices(kept: CompareData, next: CompareData): boolean {
  return (['base', 'trained'] as const).every((side) => {
    const a = kept.panels[side];
    const b = next.panels[side];
    return (
      a === b ||
      (!!a &&
        !!b &&
        a.panel === b.panel &&
        a.alignment === b.alignment &&
        !!a.targets === !!b.targets &&
        !!a.map === !!b.map)
    );
  });
}

/** The matrices of both sides and their difference. */
export function HeadMatrixView({ data }: { data: CompareData }) {
  const aggregate = useLens((s) => (s.view.token === 'selected' ? 'selected' : 'all'));
  const head = useLens((s) => s.view.head);
  // The data as it was when the section was last near the viewport: a box edit far above it computes and draws nothing.
  const [watch, near] = useWhileVisible(data, sameMatrices);
  // Only what the matrices depend on (not the picked token's map), so scrubbing tokens does not redraw them.
  const base0 = useStable(near.panels.base);
  const trained0 = useStable(near.panels.trained);
  const layer = near.panels.base?.layer ?? near.panels.trained?.layer ?? 0;
  const setView = useLens((s) => s.setView);
  const mats = useMemo(
    () => ({ base: matrixOf(base0, aggregate), trained: matrixOf(trained0, aggregate) }),
    [base0, trained0, aggregate],
  );
  const diff = useMemo(() => {
    if (!mats.base || !mats.trained) return null;
    try {
      return headMatrixDiff(mats.trained, mats.base);
    } catch {
      return null;
    }
  }, [mats]);
  const picked = head.kind === 'head' ? { layer, head: head.head } : null;
  const onPick = useCallback(
    (l: number, h: number) => setView({ layer: l, head: { kind: 'head', head: h } }),
    [setView],
  );
  const ra = useMemo(() => raScale([mats.base?.values ?? [], mats.trained?.values ?? []]), [mats]);
  const render = useCallback(
    (m: HeadMatrixData | null, label: string, diverging = false) =>
      (previous: Element | null) =>
        m
          ? renderHeadMatrix(
              m,
              {
                scale: diverging ? divergingScale([Float32Array.from(m.values)], 'ΔR_a') : ra,
                picked,
                onPick,
                label,
                pixelRatio: window.devicePixelRatio || 1,
              },
              previous,
            )
          : null,
    [ra, picked, onPick],
  );
  const base = useMemo(() => render(mats.base, 'R_a per layer and head, base'), [render, mats.base]);
  const trained = useMemo(() => render(mats.trained, 'R_a per layer and head, trained'), [render, mats.trained]);
  const delta = useMemo(() => render(diff, 'R_a trained − base per layer and head', true), [render, diff]);
  // Colour legends: one for the R_a scale both matrices share, one for the difference's diverging scale (updated in
  // place: their ranges follow every box edit).
  const raLegend = useCallback(
    (previous: Element | null) => renderLegend(ra, { width: 220, title: 'mean R_a (0.5 = image mean)' }, previous),
    [ra],
  );
  const diffLegend = useCallback(
    (previous: Element | null) =>
      diff
        ? renderLegend(
            divergingScale([Float32Array.from(diff.values)], 'ΔR_a'),
            { width: 220, title: 'ΔR_a, trained − base' },
            previous,
          )
        : null,
    [diff],
  );
  if (!mats.base && !mats.trained) return null;
  return (
    <section className="head-matrix" aria-label="R_a per layer and head" ref={watch}>
      <h2>
        Which heads look at the region (mean R_a per layer × head,{' '}
        {aggregate === 'selected' ? 'top-30 % entropy tokens' : 'all tokens'})
      </h2>
      <div className="matrices">
        <figure>
          <Chart render={base} testId="head-matrix-base" />
          <figcaption>base</figcaption>
        </figure>
        <figure>
          <Chart render={trained} testId="head-matrix-trained" />
          <figcaption>trained</figcaption>
        </figure>
        {diff ? (
          <figure>
            <Chart render={delta} testId="head-matrix-diff" />
            <figcaption>trained − base</figcaption>
          </figure>
        ) : null}
      </div>
      <div className="matrices legends">
        <Chart render={raLegend} testId="head-matrix-legend" />
        {diff ? <Chart render={diffLegend} testId="head-matrix-diff-legend" /> : null}
      </div>
      <p className="hint">
        Base and trained share one scale centred on R_a = 0.5 (red: the head attends to the region more than to the
        image on average). Click a cell to show that head in both heatmaps.
      </p>
    </section>
  );
}
