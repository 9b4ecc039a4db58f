/**
 * @file The derived data both panels need, computed once per change of its inputs: each shown panel's grid, the
 * boxes' target tokens and covered cells, the SAYO reward, the map of the current token / layer / head, and ONE
 * colour scale shared by both heatmaps.
 */
import { useMemo, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { Box, Grid } from '../../core/geometry.ts';
import type { HeadMode, NormMode } from '../../core/aggregate.ts';
import type { Alignment, RewardResult } from '../../core/reward.ts';
import {
  hasAttention,
  panelGrid,
  panelLayer,
  panelReward,
  panelSelection,
  shownMap,
  targetsFor,
} from '../../state/derive.ts';
import { shownPanels } from '../../state/slices/run.ts';
import { effectiveToken } from '../../state/slices/view.ts';
import { useLens, type LensState } from '../../state/store.ts';
import type { SessionPanel, Side, ViewState } from '../../session/types.ts';
import { normalizeFor, sharedScale, type ColorScale } from '../charts/scale.ts';
import { panelToken } from '../panel/pickedToken.ts';

/** Everything one panel's views need. */
export interface PanelData {
  side: Side;
  panel: SessionPanel;
  grid: Grid;
  layer: number;
  targets: Int32Array | null;
  coverage: Float32Array | null;
  boxError: string | null;
  reward: RewardResult | null;
  /** Which attention row a token owns in the reward (and the head matrix). */
  alignment: Alignment;
  /** The top-30 % entropy tokens (the ones r_v counts under the alignment), ascending. */
  selected: number[];
  /** The token of this panel's own answer the view shows (the shared pick clamped to its length), or an aggregate. */
  token: ViewState['token'] | null;
  /** The raw map of the current view (null without attention). */
  map: Float32Array | null;
  /** The map normalised for the shared scale. */
  values: Float32Array | null;
}

/** Both panels' data and the shared scale. */
export interface CompareData {
  panels: Partial<Record<Side, PanelData>>;
  scale: ColorScale | null;
}

const SIDES: Side[] = ['base', 'trained'];

type Static = Omit<PanelData, 'map' | 'values' | 'token'>;

/** Panel-level data that does not depend on the picked token (grid, targets, reward, entropy selection). */
export function panelStatic(
  panel: SessionPanel,
  side: Side,
  boxes: readonly Box[],
  layerView: number,
  alignment: Alignment,
): Static {
  const grid = panelGrid(panel);
  const layer = panelLayer(panel, { layer: layerView });
  const t = targetsFor(boxes, grid);
  const reward = hasAttention(panel) && t.targets ? panelReward(panel, layer, t.targets, alignment) : null;
  const selected = reward ? reward.selected : panelSelection(panel, alignment);
  return {
    side,
    panel,
    grid,
    layer,
    targets: t.targets,
    coverage: t.coverage,
    boxError: t.error,
    reward,
    alignment,
    selected,
  };
}

/**
 * Adds the current view's maps and ONE shared colour scale to the panels' static data. Given the data it returned
 * last time, it keeps that scale and those normalised values while the maps and the normalisation are the same (a
 * box edit changes neither), so what is drawn from them is not redrawn.
 */
export function compareFrom(
  statics: Partial<Record<Side, Static | null>>,
  token: ViewState['token'],
  head: HeadMode,
  norm: NormMode,
  previous?: CompareData | null,
): CompareData {
  const maps: Partial<Record<Side, Float32Array | null>> = {};
  const tokens: Partial<Record<Side, ViewState['token'] | null>> = {};
  for (const side of SIDES) {
    const st = statics[side];
    if (!st) continue;
    tokens[side] = panelToken(token, st.panel.steps.length);
    maps[side] = tokens[side] === null ? null : shownMap(st.panel, tokens[side]!, st.layer, head, st.selected);
  }
  const present = Object.values(maps).filter((m): m is Float32Array => !!m);
  const same =
    !!previous?.scale &&
    previous.scale.mode === norm &&
    SIDES.every(
      (side) =>
        (maps[side] ?? null) === (previous.panels[side]?.map ?? null) &&
        (previous.panels[side] ? !!statics[side] : !statics[side]),
    );
  const scale = same ? previous!.scale : present.length ? sharedScale(present, norm) : null;
  const panels: CompareData['panels'] = {};
  for (const side of SIDES) {
    const st = statics[side];
    if (!st) continue;
    const map = maps[side] ?? null;
    const values = same ? previous!.panels[side]!.values : map && scale ? normalizeFor(map, scale) : null;
    panels[side] = { ...st, token: tokens[side] ?? null, map, values };
  }
  return { panels, scale };
}

/** The compare data of a whole state (outside React, e.g. for PNG export). */
export function compareOf(s: LensState): CompareData {
  const shown = shownPanels(s);
  const statics = {
    base: shown.base && panelStatic(shown.base, 'base', s.boxes, s.view.layer, s.alignment),
    trained: shown.trained && panelStatic(shown.trained, 'trained', s.boxes, s.view.layer, s.alignment),
  };
  return compareFrom(statics, effectiveToken(s.view, s.hover), s.view.head, s.view.norm);
}

function useStatic(panel: SessionPanel | null, side: Side) {
  const boxes = useLens((s) => s.boxes);
  const layerView = useLens((s) => s.view.layer);
  const alignment = useLens((s) => s.alignment);
  return useMemo(
    () => (panel ? panelStatic(panel, side, boxes, layerView, alignment) : null),
    [panel, boxes, layerView, side, alignment],
  );
}

/** The compare data of the panels currently shown (own answers or cross-scored). */
export function useCompare(): CompareData {
  const shown = useLens(useShallow((s) => shownPanels(s)));
  const { head, norm } = useLens(useShallow((s) => ({ head: s.view.head, norm: s.view.norm })));
  const token = useLens((s) => effectiveToken(s.view, s.hover));
  const base = useStatic(shown.base, 'base');
  const trained = useStatic(shown.trained, 'trained');
  const last = useRef<CompareData | null>(null);
  return useMemo(
    () => (last.current = compareFrom({ base, trained }, token, head, norm, last.current)),
    [base, trained, token, head, norm],
  );
}
