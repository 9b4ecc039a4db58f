/**
 * @file Pure derivations from a panel and the view: its visual-token grid, the target tokens of the boxes, the SAYO
 * reward at a layer, and the map a heatmap shows. All math is the core's (src/core); this module only picks the data.
 */
import type { StepRecord } from '../engine/types.ts';
import { boxToTokens, cellCoverage, GeometryError, type Box, type Grid } from '../core/geometry.ts';
import { headMap, layerIndex, meanMaps, type HeadMode } from '../core/aggregate.ts';
import { alignTokens, selectTopEntropy, type Alignment, type RewardResult } from '../core/reward.ts';
import { RewardCache } from '../core/cache.ts';
import type { SessionPanel, ViewState } from '../session/types.ts';
import { resolveLayer } from './slices/view.ts';

const grids = new WeakMap<SessionPanel['prompt'], Grid>();

/**
 * The visual-token grid of a panel's prompt (the non-square grid mapped back to the original image); the same object
 * for the same prompt, so what is memoised per grid (e.g. the heatmap's layout) survives a box edit.
 */
export function panelGrid(panel: SessionPanel): Grid {
  const p = panel.prompt;
  const kept = grids.get(p);
  if (kept) return kept;
  const grid = {
    rows: p.grid.rows,
    cols: p.grid.cols,
    cell: p.resized.width / p.grid.cols,
    resized: { ...p.resized },
    image: { ...p.image },
  };
  grids.set(p, grid);
  return grid;
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

/** A panel's reward cache and the steps it holds, keyed by the panel's first step (steps are appended, never copied). */
const caches = new WeakMap<StepRecord, { cache: RewardCache; last: StepRecord }>();

/**
 * The reward cache of a panel's steps (core RewardCache over every captured layer), brought up to date with the
 * steps that streamed in since the last call; null without attention. One cache per answer, so a box edit reads
 * cached sums instead of the raw attention.
 */
export function panelCache(steps: readonly StepRecord[]): RewardCache | null {
  if (steps.length === 0 || steps[0].attention.length === 0) return null;
  let entry = caches.get(steps[0]);
  if (!entry || entry.cache.size > steps.length || steps[entry.cache.size - 1] !== entry.last) {
    entry = { cache: new RewardCache(steps[0].n, steps[0].layers.length), last: steps[0] };
    caches.set(steps[0], entry);
  }
  for (let t = entry.cache.size; t < steps.length; t++) {
    entry.cache.add(steps[t].attention, steps[t].heads);
    entry.last = steps[t];
  }
  return entry.cache;
}

/**
 * The SAYO reward of a panel at `layer` for the targets (head mean, top-30 % entropy, the given alignment), from the
 * panel's cache; null without data. perToken and selected index the tokens the alignment scores.
 */
export function panelReward(
  panel: SessionPanel,
  layer: number,
  targets: Int32Array | null,
  alignment?: Alignment,
): RewardResult | null {
  if (!targets || targets.length === 0 || !hasAttention(panel)) return null;
  const cache = panelCache(panel.steps)!;
  return cache.reward(
    targets,
    panel.steps.map((s) => s.entropy),
    { layer: layerIndex(panel.steps[0].layers, layer), alignment },
  );
}

/** The top-30 % entropy tokens r_v counts under an alignment (ascending token indices; none without steps). */
export function panelSelection(panel: SessionPanel, alignment?: Alignment): number[] {
  if (panel.steps.length === 0) return [];
  const { entropy } = alignTokens(
    panel.steps,
    panel.steps.map((s) => s.entropy),
    alignment,
  );
  return entropy.length ? selectTopEntropy(entropy) : [];
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
  const mode: HeadMode =
    head.kind === 'head' && !(head.head >= 0 && head.head < steps[0].heads) ? { kind: 'mean' } : head;
  const one = (s: StepRecord) => headMap(s.attention, s.layers, s.heads, s.n, layer, mode);
  if (typeof token === 'number') {
    const step = steps[Math.min(token, steps.length - 1)];
    return one(step);
  }
  const maps = steps.map(one);
  if (token === 'selected' && selected && selected.length > 0) return meanMaps(maps, selected);
  return meanMaps(maps);
}

/** The last map each panel showed, keyed by its first step (see {@link shownMap}). */
const lastMaps = new WeakMap<StepRecord, { key: string; map: Float32Array | null }>();

/**
 * {@link panelMap}, remembered per panel while the panel, token, layer, head and selection stay the same: a box edit
 * (which changes none of them) does not rebuild the maps.
 */
export function shownMap(
  panel: SessionPanel,
  token: ViewState['token'],
  layer: number,
  head: HeadMode,
  selected: readonly number[] | null,
): Float32Array | null {
  const first = panel.steps[0];
  if (!first) return null;
  const key = [panel.steps.length, token, layer, JSON.stringify(head), selected?.join(' ') ?? ''].join('|');
  const kept = lastMaps.get(first);
  if (kept && kept.key === key) return kept.map;
  const map = panelMap(panel, token, layer, head, selected);
  lastMaps.set(first, { key, map });
  return map;
}

/** The token indices a view aggregates over: one token, all of them, or the r_v selection. */
export function viewTokens(token: ViewState['token'], count: number, selected: readonly number[] | null): number[] {
  if (count === 0) return [];
  if (typeof token === 'number') return [Math.min(token, count - 1)];
  if (token === 'selected' && selected && selected.length > 0) return [...selected];
  return Array.from({ length: count }, (_, i) => i);
}
