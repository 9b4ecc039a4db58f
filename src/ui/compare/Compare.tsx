/**
 * @file The comparison: the per-head maps when asked for, both panels side by side on one shared colour scale (one
 * legend), the trained − base differences, and the image with the region editor while no panel holds a token
 * (before a run, while waiting for the first token, after a Stop before it or a reload that cut the run short).
 */
import { useCallback, useMemo, useRef } from 'react';
import { useLens } from '../../state/store.ts';
import { renderLegend } from '../charts/legend.ts';
import { Chart } from '../Chart.tsx';
import { Panel } from '../panel/Panel.tsx';
import { useImageElement } from '../panel/useImage.ts';
import { Preview } from './Preview.tsx';
import { DiffPanel } from './DiffPanel.tsx';
import { HeadMatrixView } from './HeadMatrixView.tsx';
import { SmallMultiples } from './SmallMultiples.tsx';
import { useCompare, type PanelData } from './useCompare.ts';
import { stripScales } from '../panel/TokenStrip.tsx';

/** Both panels, the shared legend and the difference view. */
export function Compare() {
  const image = useLens((s) => s.image);
  const anyRun = useLens((s) => s.runs.base.status !== 'idle' || s.runs.trained.status !== 'idle');
  const img = useImageElement(image?.dataUrl);
  const multiples = useLens((s) => s.multiples);
  const modelReady = useLens((s) => s.status.base.state === 'ready' || s.status.trained.state === 'ready');
  const data = useCompare();
  const { panels, scale } = data;
  // One colour range for both token strips: the same colour is the same R_a (or entropy) in either answer.
  const strips = useMemo(
    () => stripScales([panels.base, panels.trained].filter((p): p is PanelData => !!p)),
    [panels.base?.panel, panels.base?.reward, panels.trained?.panel, panels.trained?.reward],
  );
  // Redraw the legend only when what it shows changes (a new but equal scale arrives with every token).
  const legendKey = scale ? `${scale.domain.join(',')}|${scale.label}|${scale.scheme}` : '';
  const legendScale = useRef(scale);
  legendScale.current = scale;
  const legend = useCallback(
    (previous: Element | null) =>
      legendScale.current ? renderLegend(legendScale.current, { width: 260 }, previous) : null,
    [legendKey],
  );
  if (!anyRun && !panels.base && !panels.trained) {
    return image ? (
      <Preview image={image} />
    ) : (
      <p className="empty" data-testid="empty">
        Pick a sample above, or choose, drop or paste an image; type a question and press “Run both”. The base and the
        SAYO-trained checkpoint then answer side by side, and every generated token shows where it looked.
      </p>
    );
  }
  // Panels without a token yet (waiting, stopped before the first token, reloaded mid-run) keep the image and the
  // region layer on screen, so there is something to look at and draw on until the next run.
  const noTokens = !panels.base?.panel.steps.length && !panels.trained?.panel.steps.length;
  // Panels shown while no checkpoint is ready come from a session file (or from before a failed reload): say that
  // they are a recording, viewable as is, and what running again needs.
  const viewOnly = !modelReady && !!(panels.base?.panel.steps.length || panels.trained?.panel.steps.length);
  return (
    <div className="compare">
      {viewOnly ? (
        <p className="notice" data-testid="view-only-note">
          No model is loaded: this session is shown as it was saved (image, regions, answers and their attention) and
          can be explored, but not run again. Running or cross-scoring needs a checkpoint: load one above.
        </p>
      ) : null}
      {/* Right under the controls whose checkbox asks for them (below the panels they were a screen away). */}
      {multiples ? <SmallMultiples data={data} image={img} /> : null}
      {image && noTokens ? <Preview image={image} /> : null}
      <div className="panels">
        <Panel side="base" data={panels.base} scale={scale} image={img} strips={strips} />
        <Panel side="trained" data={panels.trained} scale={scale} image={img} strips={strips} />
      </div>
      <Chart render={legend} className="legend" testId="legend" />
      {panels.base && panels.trained ? <DiffPanel base={panels.base} trained={panels.trained} image={img} /> : null}
      <HeadMatrixView data={data} />
    </div>
  );
}
