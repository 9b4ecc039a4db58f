/**
 * @file One model's reward panel: R_a per token (sparkline), r_v, a_q, v_q and the image-attention share, with the
 * current r_v in `data-rv` and the picked token's R_a (mean R_a for an aggregate) in `data-ra`.
 */
import { useCallback } from 'react';
import { panelImageShare, viewTokens } from '../../state/derive';
import { effectiveToken } from '../../state/slices/view';
import { useLens } from '../../state/store';
import { renderSparkline, SPARKLINE_DEFAULTS } from '../charts/sparkline';
import { formatValue } from '../charts/scale';
import { Chart } from '../Chart';
import { raScale } from '../raScale';
import type { PanelData } from '../compare/useCompare';

/** Sparkline width in CSS pixels. */
const SPARK_WIDTH = 300;

/** Mean R_a over the tokens the view shows (one token → its R_a). */
export function viewRa(data: PanelData, token: ReturnType<typeof effectiveToken>): number | null {
  if (!data.reward) return null;
  const idx = viewTokens(token, data.panel.steps.length, data.selected);
  if (idx.length === 0) return null;
  return idx.reduce((s, i) => s + data.reward!.perToken[i].R_a, 0) / idx.length;
}

/** The panel. */
export function RewardPanel({ data }: { data: PanelData }) {
  const token = useLens((s) => effectiveToken(s.view, s.hover));
  const setView = useLens((s) => s.setView);
  const r = data.reward;
  const ra = viewRa(data, token);
  const share = panelImageShare(data.panel, data.layer);
  // The sparkline is drawn once per reward; the picked token is a CSS rule over it (cheap while scrubbing).
  const spark = useCallback(
    () =>
      r
        ? renderSparkline(
            { values: r.perToken.map((p) => p.R_a), selected: r.selected, picked: null },
            {
              width: SPARK_WIDTH,
              height: 48,
              domain: raScale([r.perToken.map((p) => p.R_a)]).domain,
              reference: 0.5,
              label: `R_a per token, ${data.side}`,
              onPick: (i) => setView({ token: i }),
            },
          )
        : null,
    [r, data.side, setView],
  );
  const count = data.panel.steps.length;
  const pad = SPARKLINE_DEFAULTS.pad;
  const markX = typeof token === 'number' && count > 0 ? pad + (Math.min(token, count - 1) / Math.max(1, count - 1)) * (SPARK_WIDTH - 2 * pad) : null;
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : formatValue(v));
  return (
    <section
      className="reward"
      data-testid={`reward-${data.side}`}
      data-rv={r ? String(r.r_v) : ''}
      data-ra={ra === null ? '' : String(ra)}
      aria-label={`${data.side} reward`}
    >
      {data.boxError ? <p className="notice">{data.boxError}</p> : null}
      {!r && !data.boxError ? (
        <p className="hint">{data.map ? 'Draw a key region (or pick a sample) to score R_a and r_v.' : 'This model exposes no attention; nothing to score.'}</p>
      ) : null}
      <dl className="metrics">
        <dt title="SAYO reward over the top-30 % entropy tokens">r_v</dt>
        <dd>{fmt(r?.r_v)}</dd>
        <dt title="R_a of the picked token (mean over the aggregate)">R_a</dt>
        <dd>{fmt(ra)}</dd>
        <dt title="mean attention on the region, over the selected tokens">a_q</dt>
        <dd>{fmt(r?.a_q)}</dd>
        <dt title="mean attention on all image tokens, over the selected tokens">v_q</dt>
        <dd>{fmt(r?.v_q)}</dd>
        <dt title="share of the attention row on image tokens (head mean, all tokens)">image share</dt>
        <dd>{fmt(share)}</dd>
      </dl>
      <div className="spark-wrap" style={{ width: SPARK_WIDTH }}>
        <Chart render={spark} className="sparkline" />
        {r && markX !== null ? <span className="spark-mark" style={{ left: markX }} aria-hidden="true" /> : null}
      </div>
      <p className="hint">
        R_a per token (dashed: 0.5; dots: the tokens r_v counts) · layer {data.layer}, head mean
      </p>
    </section>
  );
}
