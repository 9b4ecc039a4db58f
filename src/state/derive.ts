/**
 * @file Pure derivations from a panel and the view: its visual-token grid, the target tokens of the boxes, the SAYO
 * reward at a layer, and the map a heatmap shows. All math is the core's (src/core); this module only picks the data.
 */
import type { StepRecord } from '../engine/types';
import { boxToTokens, cellCoverage, GeometryError, type Box, type Grid } from '../core/geometry';
import { headMap, layerIndex, meanMaps, type HeadMode } from '../core/aggregate';
import { computeReward, type RewardResult } from '../core/reward';
import type { SessionPanel, ViewState } from '../session/types';
import { resolveLayer } from './slices/view';

/** The visual-token grid of a panel's prompt (the non-square grid mapped back to the original image). */
export function panelGrid(panel: SessionPanel): Grid {
  const p = panel.prompt;
  return {
    rows: p.grid.rows,
    cols: p.grid.cols,
    cell: p.resized.width / p.grid.cols,
    resized: { ...p.resized },
    image: { ...p.image },
  };
}

/** Targets of the boxes on a grid, or a message naming the bad box (never throws). */
export function targetsFor(
  boxes: readonly Box[],
  grid: Grid,
): { targets: Int32Array | null; coverage: Float32Array | null; error: string | null } {
  if (boxes.length === 0) return { targets: null, coverage: null, error: null };
  try {
    return { targets: boxToTokens(boxes, grid), coverage: cellCoverage(boxes, grid), error: null };
  } catch (e) {
    if (e instanceof GeometryError) return { targets: null, coverage: null, error: e.message };
    throw e;
  }
}

/** True when the panel's steps carry attention (models without attention outputs stream empty arrays). */
export function hasAttention(panel: SessionPanel | null): boolean {
  return !!panel && panel.steps.length > 0 && panel.steps[0].attention.length > 0;
}

/** The decoder layer a view shows for a panel (the last captured one by default). */
export function panelLayer(panel: SessionPanel, view: Pick<ViewState, 'layer'>): number {
  return resolveLayer(view.layer, panel.steps[0]?.layers ?? []);
}

/** One layer's heads × n block of a step (a view, no copy). */
function layerBlock(step: StepRecord, layer: number): Float32Array {
  const li = layerIndex(step.layers, layer);
  const size = step.heads * step.n;
  return step.attention.subarray(li * size, (li + 1) * size);
}

/** The SAYO reward of a panel at `layer` for the targets (head mean, top-30 % entropy), or null without data. */
export function panelReward(panel: SessionPanel, layer: number, targets: Int32Array | null): RewardResult | null {
  if (!targets || targets.length === 0 || !hasAttention(panel)) return null;
  const steps = panel.steps;
  return computeReward({
    tokens: steps.map((s) => layerBlock(s, layer)),
    heads: steps[0].heads,
    n: steps[0].n,
    targets,
    entropy: steps.map((s) => s.entropy),
  });
}

/** Mean share of attention on image tokens at `layer` (head mean, over the panel's tokens). */
export function panelImageShare(panel: SessionPanel, layer: number): number | null {
  if (!hasAttention(panel)) return null;
  let sum = 0;
  for (const s of panel.steps) {
    const li = layerIndex(s.layers, layer);
    let m = 0;
    for (let h = 0; h < s.heads; h++) m += s.imageShare[li * s.heads + h];
    sum += m / s.heads;
  }
  return sum / panel.steps.length;
}

/**
 * The map a heatmap shows: one token's head-combined attention at `layer`, or the mean over all tokens, or over the
 * r_v-selected tokens (falls back to all when nothing is selected). Null when the panel has no attention.
 */
export function panelMap(
  panel: SessionPanel,
  token: ViewState['token'],
  layer: number,
  head: HeadMode,
  selected: readonly number[] | null,
): Float32Array | null {
  if (!hasAttention(panel)) return null;
  const steps = panel.steps;
  // A head the panel does not have (e.g. from a URL or another checkpoint) shows the head mean instead.
  const mode: HeadMode = head.kind === 'head' && !(head.head >= 0 && head.head < steps[0].heads) ? { kind: 'mean' } : head;
  const one = (s: StepRecord) => headMap(s.attention, s.layers, s.heads, s.n, layer, mode);
  if (typeof token === 'number') {
    const step = steps[Math.min(token, steps.length - 1)];
    return one(step);
  }
  const maps = steps.map(one);
  if (token === 'selected' && selected && selected.length > 0) return meanMaps(maps, selected);
  return meanMaps(maps);
}

/** The token indices a view aggregates over: one token, all of them, or the r_v selection. */
export function viewTokens(token: ViewState['token'], count: number, selected: readonly number[] | null): number[] {
  if (count === 0) return [];
  if (typeof token === 'number') return [Math.min(token, count - 1)];
  if (token === 'selected' && selected && selected.length > 0) return [...selected];
  return Array.from({ length: count }, (_, i) => i);
}
