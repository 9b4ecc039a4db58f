/**
 * @file View slice: what the user is looking at — token (or an aggregate), layer, head mode, normalisation, heatmap
 * opacity and what colours the token strip — plus the transient hover token and the reward's alignment. Shared by both panels so they stay
 * synchronised.
 */
import type { StateCreator } from 'zustand';
import type { LensState } from '../store.ts';
import type { ViewState } from '../../session/types.ts';
import { DEFAULT_ALIGNMENT, type Alignment } from '../../core/reward.ts';

/** `layer` value meaning "the last captured layer" (the layer the SAYO reward uses). */
export const LAST_LAYER = -1;

export const DEFAULT_VIEW: ViewState = {
  token: 'all',
  layer: LAST_LAYER,
  head: { kind: 'mean' },
  norm: 'shared',
  opacity: 0.6,
  colorBy: 'ra',
};

export interface ViewSlice {
  view: ViewState;
  /** Token under the pointer (previews without changing the picked token). */
  hover: number | null;
  /** Show the per-head small multiples. */
  multiples: boolean;
  /** Which attention row a generated token owns in the reward figures (not part of the session file). */
  alignment: Alignment;
  setView(patch: Partial<ViewState>): void;
  setHover(token: number | null): void;
  setMultiples(on: boolean): void;
  setAlignment(alignment: Alignment): void;
}

/** Resolves the `layer` of a view against the layers a panel captured (LAST_LAYER or unknown → the last). */
export function resolveLayer(layer: number, layers: readonly number[]): number {
  if (layers.length === 0) return layer;
  return layers.includes(layer) ? layer : layers[layers.length - 1];
}

/** The token the views show: the hovered one while hovering, else the picked token or aggregate. */
export function effectiveToken(view: ViewState, hover: number | null): ViewState['token'] {
  return hover ?? view.token;
}

/**
 * Moves the picked token by `delta` along an answer of `count` tokens (arrow keys). From an aggregate it starts at
 * the first (delta > 0) or last token.
 */
export function stepToken(token: ViewState['token'], delta: number, count: number): ViewState['token'] {
  if (count <= 0) return token;
  if (typeof token !== 'number') return delta > 0 ? 0 : count - 1;
  return Math.min(count - 1, Math.max(0, token + delta));
}

export const createViewSlice: StateCreator<LensState, [], [], ViewSlice> = (set) => ({
  view: { ...DEFAULT_VIEW },
  hover: null,
  multiples: false,
  alignment: DEFAULT_ALIGNMENT,
  setView: (patch) => set((s) => ({ view: { ...s.view, ...patch } })),
  setHover: (hover) => set({ hover }),
  setMultiples: (multiples) => set({ multiples }),
  setAlignment: (alignment) => set({ alignment }),
});
