/**
 * @file Per-head small multiples: every head of the current layer for the current token (or aggregate), for both
 * models, on one colour scale shared by all of them. Clicking one shows that head in the main heatmaps.
 */
import { useCallback, useMemo } from 'react';
import { panelMap } from '../../state/derive.ts';
import { effectiveToken } from '../../state/slices/view.ts';
import { useLens } from '../../state/store.ts';
import type { Side } from '../../session/types.ts';
import { renderHeatmap } from '../charts/heatmap.ts';
import { normalizeFor, sharedScale } from '../charts/scale.ts';
import { Chart } from '../Chart.tsx';
import type { CompareData } from './useCompare.ts';

/** Width of one small map in CSS pixels. */
const SMALL = 96;

/** The grid of per-head maps. */
export function SmallMultiples({ data, image }: { data: CompareData; image: HTMLImageElement | null }) {
  const token = useLens((s) => effectiveToken(s.view, s.hover));
  const norm = useLens((s) => s.view.norm);
  const boxes = useLens((s) => s.boxes);
  const setView = useLens((s) => s.setView);
  const b = data.panels.base;
  const t = data.panels.trained;
  const maps = useMemo(() => {
    const out: { side: Side; head: number; map: Float32Array }[] = [];
    for (const side of ['base', 'trained'] as Side[]) {
      const d = data.panels[side];
      if (!d?.map) continue;
      const heads = d.panel.steps[0].heads;
      for (let h = 0; h < heads; h++) {
        const m = panelMap(d.panel, token, d.layer, { kind: 'head', head: h }, d.selected);
        if (m) out.push({ side, head: h, map: m });
      }
    }
    return out;
    // Rebuilt when a panel, its layer or selection or the token changes — not on a box edit (only the boxes move).
  }, [token, b?.panel, b?.layer, b?.selected.join(' '), !!b?.map, t?.panel, t?.layer, t?.selected.join(' '), !!t?.map]);
  const scale = useMemo(
    () =>
      maps.length
        ? sharedScale(
            maps.map((m) => m.map),
            norm,
          )
        : null,
    [maps, norm],
  );
  const render = useCallback(() => {
    if (!scale) return null;
    const wrap = document.createElement('div');
    wrap.className = 'multiples-grid';
    for (const { side, head, map } of maps) {
      const d = data.panels[side]!;
      const fig = document.createElement('button');
      fig.type = 'button';
      fig.className = 'multiple';
      fig.setAttribute('aria-label', `Show ${side} head ${head}`);
      fig.append(
        renderHeatmap(
          { image, grid: d.grid, values: normalizeFor(map, scale), boxes },
          { scale, width: SMALL, opacity: 0.75 },
        ),
      );
      const cap = document.createElement('span');
      cap.textContent = `${side} h${head}`;
      fig.append(cap);
      fig.addEventListener('click', () => setView({ head: { kind: 'head', head } }));
      wrap.append(fig);
    }
    return wrap;
  }, [maps, scale, data, image, boxes, setView]);
  if (!maps.length) return null;
  return (
    <section className="multiples" aria-label="Per-head maps">
      <h2>Per-head maps (layer {data.panels.base?.layer ?? data.panels.trained?.layer}, one shared scale)</h2>
      <Chart render={render} />
    </section>
  );
}
