/**
 * @file One model's reward figures, each labelled in words with fixed decimals — r_v, the picked token's R_a (mean
 * R_a for an aggregate), a_q, v_q and the image-attention share — with the current r_v in `data-rv` and R_a in
 * `data-ra`, and the alignment they use (which attention row a token owns; switched in the view controls); and `RewardSpark`, R_a per token
 * as a sparkline with a y-axis. Their definitions are in the "What is r_v?" explainer.
 */
import { useCallback } from 'react';
import { panelImageShare } from '../../state/derive.ts';
import { effectiveToken } from '../../state/slices/view.ts';
import { useLens } from '../../state/store.ts';
import { renderSparkline, SPARKLINE_DEFAULTS } from '../charts/sparkline.ts';
import { Chart } from '../Chart.tsx';
import { raScale } from '../raScale.ts';
import { DECIMALS, fixed } from '../format.ts';
import type { PanelData } from '../compare/useCompare.ts';
import { panelToken } from './pickedToken.ts';

/** Sparkline width in CSS pixels (the SVG scales down with its panel). */
const SPARK_WIDTH = 320;
/** Left margin of the sparkline for its y-axis labels. */
const SPARK_AXIS = 30;

/** Mean R_a over the tokens the view shows (one token → its R_a; null for a token the alignment does not score). */
export function viewRa(data: PanelData, token: ReturnType<typeof effectiveToken>): number | null {
  const r = data.reward;
  if (!r) return null;
  const t = panelToken(token, data.panel.steps.length);
  if (t === null) return null;
  const idx =
    typeof t === 'number' ? [t] : t === 'selected' && r.selected.length > 0 ? r.selected : r.perToken.map((_, i) => i);
  const scores = idx.flatMap((i) => (r.perToken[i] ? [r.perToken[i].R_a] : []));
  return scores.length ? scores.reduce((s, x) => s + x, 0) / scores.length : null;
}

/** The figures of one panel. */
export function RewardPanel({ data }: { data: PanelData }) {
  const token = useLens((s) => effectiveToken(s.view, s.hover));
  const r = data.reward;
  const ra = viewRa(data, token);
  const share = panelImageShare(data.panel, data.layer);
  const D = DECIMALS;
  return (
    <section
      className="reward"
      data-testid={`reward-${data.side}`}
      data-rv={r ? String(r.r_v) : ''}
      data-ra={ra === null ? '' : String(ra)}
      data-alignment={data.alignment}
      aria-label={`${data.side} reward`}
    >
      {data.boxError ? <p className="notice">{data.boxError}</p> : null}
      {!r && !data.boxError ? (
        <p className="hint">
          {data.map
            ? 'Draw a key region (or pick a sample) to score R_a and r_v.'
            : 'This model exposes no attention; nothing to score.'}
        </p>
      ) : null}
      <dl className="metrics">
        <div>
          <dt>r_v · region reward</dt>
          <dd data-testid={`rv-${data.side}`}>{fixed(r?.r_v, D.reward)}</dd>
        </div>
        <div>
          <dt>R_a · token in region</dt>
          <dd>{fixed(ra, D.reward)}</dd>
        </div>
        <div>
          <dt>a_q · region attention</dt>
          <dd>{fixed(r?.a_q, D.attention)}</dd>
        </div>
        <div>
          <dt>v_q · image attention</dt>
          <dd>{fixed(r?.v_q, D.attention)}</dd>
        </div>
        <div>
          <dt>image share</dt>
          <dd>{fixed(share, D.share)}</dd>
        </div>
      </dl>
      {r ? (
        <p className="hint alignment-note" data-testid={`alignment-${data.side}`}>
          alignment {data.alignment}:{' '}
          {data.alignment === 'input'
            ? `tokens 0…${data.panel.steps.length - 2} scored, token t with row t + 1`
            : 'every token scored with the row that produced it'}
        </p>
      ) : null}
    </section>
  );
}

/** R_a per token with a y-axis, the r_v tokens dotted and the picked token marked. */
export function RewardSpark({ data }: { data: PanelData }) {
  const token = useLens((s) => effectiveToken(s.view, s.hover));
  const setView = useLens((s) => s.setView);
  const r = data.reward;
  // Drawn once per reward, in place (a box edit changes the values, not the elements); the picked token is a CSS rule
  // over it (cheap while scrubbing).
  const spark = useCallback(
    (previous: Element | null) =>
      r
        ? renderSparkline(
            { values: r.perToken.map((p) => p.R_a), selected: r.selected, picked: null },
            {
              width: SPARK_WIDTH,
              height: 64,
              axis: SPARK_AXIS,
              domain: raScale([r.perToken.map((p) => p.R_a)]).domain,
              reference: 0.5,
              label: `R_a per token, ${data.side}`,
              onPick: (i) => setView({ token: i }),
            },
            previous,
          )
        : null,
    [r, data.side, setView],
  );
  if (!r) return null;
  // The sparkline has one point per scored token (one fewer than the answer under the input alignment).
  const count = r.perToken.length;
  const pad = SPARKLINE_DEFAULTS.pad;
  const t = panelToken(token, data.panel.steps.length);
  const markX =
    typeof t === 'number' && t < count
      ? SPARK_AXIS + pad + (t / Math.max(1, count - 1)) * (SPARK_WIDTH - SPARK_AXIS - 2 * pad)
      : null;
  return (
    <figure className="spark">
      <div className="spark-wrap" style={{ width: SPARK_WIDTH }}>
        <Chart render={spark} className="sparkline" testId={`spark-${data.side}`} />
        {markX !== null ? <span className="spark-mark" style={{ left: markX }} aria-hidden="true" /> : null}
      </div>
      <figcaption className="hint" data-testid={`spark-caption-${data.side}`}>
        R_a per token (y) over the answer's tokens (x) · dashed: 0.5 = region as attended as the image mean ·{' '}
        <span className="rv-dot">●</span> counts for r_v · layer {data.layer}, head mean · grid {data.grid.cols}×
        {data.grid.rows} cells (w×h)
      </figcaption>
    </figure>
  );
}
