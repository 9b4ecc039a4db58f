/**
 * @file The bridge between the store and a LensSession (the session file / IndexedDB record): build one from the
 * current state, and load one back (image, question, regions, every panel, the view) with no model needed.
 */
import type { LensSession, SessionPanel, ViewState } from '../session/types.ts';
import type { LensState, LensStore } from './store.ts';
import { resolveLayer } from './slices/view.ts';

/** A view layer as a session stores it: LAST_LAYER resolved to the last captured layer (0 without panels). */
export function concreteLayer(layer: number, panels: readonly SessionPanel[]): number {
  const layers = panels.find((p) => p.steps.length)?.steps[0].layers ?? [];
  return layer >= 0 ? layer : resolveLayer(layer, layers) >= 0 ? resolveLayer(layer, layers) : 0;
}

/**
 * The view clamped to what the panels hold, so that it can always be kept: a picked token beyond the longest answer
 * becomes that answer's last token (a new run may answer shorter than the token picked before), a layer that was not
 * captured becomes the last captured one, a head beyond the captured heads the last head. Without tokens it is kept.
 */
export function viewForPanels(view: ViewState, panels: readonly SessionPanel[]): ViewState {
  const steps = panels.flatMap((p) => p.steps);
  const layer = concreteLayer(view.layer, panels);
  if (steps.length === 0) return { ...view, layer };
  const layers = [...new Set(steps.flatMap((s) => s.layers))];
  const tokens = Math.max(...panels.map((p) => p.steps.length));
  const heads = Math.max(...steps.map((s) => s.heads));
  return {
    ...view,
    layer: layers.includes(layer) ? layer : Math.max(...layers),
    token: typeof view.token === 'number' ? Math.min(view.token, tokens - 1) : view.token,
    head: view.head.kind === 'head' && view.head.head >= heads ? { kind: 'head', head: heads - 1 } : view.head,
  };
}

/** The session of the current state, or null while there is no image. Running panels are included as they are. */
export function buildSession(s: LensState, now = new Date()): LensSession | null {
  if (!s.image) return null;
  const panels: SessionPanel[] = [s.runs.base, s.runs.trained, s.cross.base, s.cross.trained]
    .map((r) => r.panel)
    .filter((p): p is SessionPanel => !!p);
  return {
    version: 1,
    createdAt: now.toISOString(),
    question: s.question,
    image: { ...s.image },
    boxes: s.boxes.map((b) => [...b] as LensSession['boxes'][number]),
    panels,
    view: viewForPanels(s.view, panels),
  };
}

/** Replaces the store's input, panels and view by a session's. */
export function applySession(store: LensStore, session: LensSession): void {
  const s = store.getState();
  s.setImage({ ...session.image }, null);
  s.setQuestion(session.question);
  s.setBoxes(session.boxes.map((b) => [...b] as LensSession['boxes'][number]));
  s.loadPanels(session.panels);
  s.setView({ ...session.view });
  s.setHover(null);
}
