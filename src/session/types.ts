/**
 * @file Session data model shared by the store, the export/import code and persistence.
 * A `LensSession` is everything needed to view a comparison again with no model loaded:
 * the image, the question, the regions, every panel's per-token attention and the view state.
 */
import type { PromptInfo, StepRecord, RunSummary } from '../engine/types.ts';
import type { Box } from '../core/geometry.ts';
import type { HeadMode, NormMode } from '../core/aggregate.ts';

/** Which checkpoint of the pair a panel belongs to. */
export type Side = 'base' | 'trained';

/** One model's answer (generated or teacher-forced) with its captured attention. */
export interface SessionPanel {
  side: Side;
  modelId: string;
  modelName: string;
  prompt: PromptInfo;
  steps: StepRecord[];
  summary?: RunSummary;
  source: 'generate' | 'score';
}

/** What the user is looking at; mirrored (in part) in the URL. */
export interface ViewState {
  /** A token index, the mean over all tokens, or the mean over the top-entropy selection. */
  token: number | 'all' | 'selected';
  /** Decoder layer id (one of StepRecord.layers). */
  layer: number;
  head: HeadMode;
  norm: NormMode;
  /** Heatmap opacity in [0, 1]. */
  opacity: number;
  colorBy: 'ra' | 'entropy';
}

/** A complete, self-contained session (version 1 of the format). */
export interface LensSession {
  version: 1;
  /** ISO-8601 timestamp. */
  createdAt: string;
  question: string;
  image: { name: string; width: number; height: number; dataUrl: string };
  /** Regions in original-image pixels, shared by all panels. */
  boxes: Box[];
  /** Base and trained answers; cross-scored panels too. */
  panels: SessionPanel[];
  view: ViewState;
}
