/**
 * @file Keeping the session: restores the last session from IndexedDB at start (then the view from the URL), saves
 * the session whenever input, panels or view change — debounced when idle, and at most every SAVE_DELAY_MS while
 * answers stream, so a reload mid-run keeps the image, question, regions and the partial answers (restored as
 * "interrupted") — and mirrors the view in the URL (other URL parameters, e.g. `backend`, are kept). A URL's view is
 * checked against the restored panels, and what could not be used as written is said.
 */
import { loadSession, readViewSearch, saveSession, viewToSearch } from '../session/persist.ts';
import type { ViewState } from '../session/types.ts';
import { applySession, buildSession, concreteLayer, viewForPanels } from './session.ts';
import type { LensState, LensStore } from './store.ts';

/** Milliseconds of quiet before the session is saved. */
export const SAVE_DELAY_MS = 400;
/** Milliseconds of quiet before the URL follows the view (history.replaceState is slow while scrubbing tokens). */
export const URL_DELAY_MS = 250;

const running = (s: LensState) =>
  [s.runs.base, s.runs.trained, s.cross.base, s.cross.trained].some((r) => r.status === 'running');

/**
 * Restores the kept session and the URL's view (URL wins for the view, checked against the panels). Reports a broken
 * record, and URL view values that could not be used as written, as errors.
 */
export async function restoreSession(store: LensStore, search = location.search): Promise<boolean> {
  let restored = false;
  try {
    const session = await loadSession();
    if (session) {
      applySession(store, session);
      restored = true;
    }
  } catch (e) {
    store.getState().setError('session', `The saved session could not be restored: ${(e as Error).message}`);
  }
  if (search) applyViewSearch(store, search);
  return restored;
}

/** A view value as its URL parameter writes it. */
const asParam = (v: ViewState, key: 'token' | 'layer' | 'head'): string =>
  key === 'head' ? (v.head.kind === 'head' ? `h${v.head.head}` : v.head.kind) : String(v[key]);

/**
 * Applies a URL's view to the store, checked against the panels on screen: an unreadable value keeps its default, a
 * token, layer or head the panels do not hold is clamped to the nearest they do (see viewForPanels), and one message
 * (scope 'view') says which parameters were not used as written. Without panels only the syntax can be checked.
 */
export function applyViewSearch(store: LensStore, search: string): void {
  const s = store.getState();
  const { values, rejected } = readViewSearch(search);
  const asked: ViewState = { ...s.view, ...values };
  const panels = [s.runs.base, s.runs.trained, s.cross.base, s.cross.trained].flatMap((r) =>
    r.panel ? [r.panel] : [],
  );
  const checked = viewForPanels(asked, panels);
  // "The last layer" (no layer in the URL) stays symbolic; only a layer the URL names is checked.
  const view = panels.some((p) => p.steps.length)
    ? { ...checked, layer: asked.layer < 0 ? asked.layer : checked.layer }
    : asked;
  const notes = rejected.map(({ param, value }) => `${param}=${value} is not a valid value (the default is used)`);
  for (const key of ['layer', 'token', 'head'] as const) {
    if (values[key] === undefined || asParam(view, key) === asParam(asked, key)) continue;
    const what =
      key === 'layer' ? 'not a captured layer' : key === 'token' ? 'beyond the answers' : 'not a captured head';
    notes.push(`${key}=${asParam(asked, key)} is ${what} (showing ${key} ${asParam(view, key)})`);
  }
  s.setView(view);
  if (notes.length) s.setError('view', `The link's view was adjusted: ${notes.join('; ')}.`);
  else s.clearError('view');
}

/** Saves on change and syncs the URL; returns the dispose function. */
export function keepSession(store: LensStore): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let urlTimer: ReturnType<typeof setTimeout> | undefined;
  const syncUrl = () => {
    const s = store.getState();
    const panels = [s.runs.base.panel, s.runs.trained.panel].filter((p) => !!p);
    const extra = readViewSearch(location.search).extra;
    const url = viewToSearch({ ...s.view, layer: concreteLayer(s.view.layer, panels) }, extra) + location.hash;
    if (url !== location.search + location.hash) history.replaceState(history.state, '', url);
  };
  const save = () => {
    timer = undefined;
    const s = store.getState();
    const session = buildSession(s);
    if (!session) return;
    saveSession(session).then(
      () => store.getState().clearError('session'),
      (e: Error) => store.getState().setError('session', `The session could not be kept for reloads: ${e.message}`),
    );
  };
  const unsub = store.subscribe((s, prev) => {
    if (s.view !== prev.view || s.runs !== prev.runs) {
      clearTimeout(urlTimer);
      urlTimer = setTimeout(syncUrl, URL_DELAY_MS);
    }
    const changed =
      s.image !== prev.image ||
      s.question !== prev.question ||
      s.boxes !== prev.boxes ||
      s.view !== prev.view ||
      s.runs !== prev.runs ||
      s.cross !== prev.cross;
    if (!changed) return;
    // While streaming, a pending save is not pushed back by the next token (a debounce would never fire).
    if (running(s) && timer !== undefined) return;
    clearTimeout(timer);
    timer = setTimeout(save, SAVE_DELAY_MS);
  });
  return () => {
    clearTimeout(timer);
    clearTimeout(urlTimer);
    unsub();
  };
}
