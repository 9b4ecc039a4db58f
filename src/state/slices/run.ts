/**
 * @file Run slice: the streaming answer of each side (prompt facts, step records as they arrive, summary) and the
 * cross-scored panels (one answer teacher-forced through the other model). Panels are `SessionPanel`s so a saved
 * session and a live run look the same to the views.
 */
import type { StateCreator } from 'zustand';
import type { LensState } from '../store.ts';
import type { PromptInfo, RunSummary, StepRecord } from '../../engine/types.ts';
import type { SessionPanel, Side } from '../../session/types.ts';

/** Which pair of panels the views compare. */
export type CompareMode = 'own' | 'base-answer' | 'trained-answer';

/**
 * One side's run. `panel` is null until the prompt facts arrive. 'interrupted': restored after a reload that cut
 * the answer short (a kept panel without a summary).
 */
export interface PanelRun {
  status: 'idle' | 'running' | 'done' | 'stopped' | 'error' | 'interrupted';
  panel: SessionPanel | null;
}

export interface RunSlice {
  runs: Record<Side, PanelRun>;
  /** Cross-scored panels: `cross.trained` is the base answer scored under the trained model, and vice versa. */
  cross: Record<Side, PanelRun>;
  compare: CompareMode;
  startPanel(side: Side, which: 'runs' | 'cross'): void;
  setPrompt(
    side: Side,
    which: 'runs' | 'cross',
    base: Omit<SessionPanel, 'steps' | 'prompt'>,
    prompt: PromptInfo,
  ): void;
  /** Appends streamed steps (a batch: the effects flush at most once per frame). */
  addSteps(side: Side, which: 'runs' | 'cross', steps: StepRecord[]): void;
  finishPanel(side: Side, which: 'runs' | 'cross', status: PanelRun['status'], summary?: RunSummary): void;
  /**
   * The engine's summary of a run stopped earlier: its timings are kept, its token count and text become those of
   * the steps on screen (steps that arrived after Stop were dropped).
   */
  attachStoppedSummary(side: Side, which: 'runs' | 'cross', summary: RunSummary): void;
  setCompare(mode: CompareMode): void;
  /** Replaces all panels (session import / restore). */
  loadPanels(panels: SessionPanel[]): void;
}

const idle = (): PanelRun => ({ status: 'idle', panel: null });

function patch(s: RunSlice, which: 'runs' | 'cross', side: Side, f: (r: PanelRun) => PanelRun): Partial<RunSlice> {
  return { [which]: { ...s[which], [side]: f(s[which][side]) } };
}

/** The two panels the views show for a compare mode (either may be null while nothing ran). */
export function shownPanels(s: Pick<RunSlice, 'runs' | 'cross' | 'compare'>): Record<Side, SessionPanel | null> {
  if (s.compare === 'base-answer') return { base: s.runs.base.panel, trained: s.cross.trained.panel };
  if (s.compare === 'trained-answer') return { base: s.cross.base.panel, trained: s.runs.trained.panel };
  return { base: s.runs.base.panel, trained: s.runs.trained.panel };
}

export const createRunSlice: StateCreator<LensState, [], [], RunSlice> = (set) => ({
  runs: { base: idle(), trained: idle() },
  cross: { base: idle(), trained: idle() },
  compare: 'own',
  startPanel: (side, which) =>
    set((s) => ({
      ...patch(s, which, side, () => ({ status: 'running', panel: null })),
      ...(which === 'runs' ? { cross: { base: idle(), trained: idle() }, compare: 'own' as const } : {}),
    })),
  setPrompt: (side, which, base, prompt) =>
    set((s) => patch(s, which, side, (r) => ({ ...r, panel: { ...base, prompt, steps: [] } }))),
  addSteps: (side, which, steps) =>
    set((s) =>
      patch(s, which, side, (r) =>
        r.panel ? { ...r, panel: { ...r.panel, steps: [...r.panel.steps, ...steps] } } : r,
      ),
    ),
  finishPanel: (side, which, status, summary) =>
    set((s) =>
      patch(s, which, side, (r) => ({ status, panel: r.panel && summary ? { ...r.panel, summary } : r.panel })),
    ),
  attachStoppedSummary: (side, which, summary) =>
    set((s) =>
      patch(s, which, side, (r) =>
        r.panel && r.status === 'stopped'
          ? {
              ...r,
              panel: {
                ...r.panel,
                summary: {
                  ...summary,
                  stoppedBy: 'cancel',
                  tokens: r.panel.steps.length,
                  text: r.panel.steps.map((t) => t.text).join(''),
                },
              },
            }
          : r,
      ),
    ),
  setCompare: (compare) => set({ compare }),
  loadPanels: (panels) =>
    set(() => {
      const runs = { base: idle(), trained: idle() };
      const cross = { base: idle(), trained: idle() };
      for (const p of panels) {
        const target = p.source === 'generate' ? runs : cross;
        const status = !p.summary ? 'interrupted' : p.summary.stoppedBy === 'cancel' ? 'stopped' : 'done';
        target[p.side] = { status, panel: p };
      }
      return { runs, cross, compare: 'own' as const };
    }),
});
