/**
 * @file PNG of one panel as it is on screen: the same map, shared scale, regions and opacity, composed by the
 * session helper's `exportPanelPng` with a title (model, token, layer, head) and the reward in the subtitle.
 */
import { useLens } from '../state/store';
import type { Side } from '../session/types';
import { exportPanelPng } from './export/png';
import { formatValue } from './charts/scale';
import { compareOf } from './compare/useCompare';

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the image could not be decoded for the PNG'));
    img.src = src;
  });
}

/** The PNG of `side`'s panel, or null when that panel has no heatmap. */
export async function exportCurrentPng(side: Side): Promise<Blob | null> {
  const s = useLens.getState();
  const { panels, scale } = compareOf(s);
  const d = panels[side];
  if (!d || !d.values || !scale) {
    s.setError('export', `The ${side} panel has no heatmap to export yet.`);
    return null;
  }
  const t = s.view.token;
  const tokenText = typeof t === 'number' ? `token ${t} “${d.panel.steps[t]?.text ?? ''}”` : t === 'all' ? 'all tokens' : 'top-30 % entropy tokens';
  const head = s.view.head.kind === 'head' ? `head ${s.view.head.head}` : `head ${s.view.head.kind}`;
  const r = d.reward;
  const image = s.image ? await loadImage(s.image.dataUrl) : null;
  s.clearError('export');
  return exportPanelPng({
    image,
    grid: d.grid,
    values: d.values,
    boxes: s.boxes,
    coverage: d.coverage ?? undefined,
    scale,
    opacity: s.view.opacity,
    title: `${d.panel.modelName} — ${tokenText} — layer ${d.layer}, ${head}`,
    subtitle: `${r ? `r_v ${formatValue(r.r_v)} · a_q ${formatValue(r.a_q)} · v_q ${formatValue(r.v_q)} · ` : ''}question: ${s.question}`,
  });
}
