/**
 * @file Running the models: both answers stream side by side into the store; Stop ends the panels at once (the
 * engine is told to cancel, and whatever it still sends is dropped, so no token appears after Stop).
 */
import type { ImageInput, ModelInfo, PromptInfo, RunSummary, StepRecord } from '../../engine/types.ts';
import type { Side } from '../../session/types.ts';
import type { PanelRun } from '../slices/run.ts';
import {
  dataUrlToImage,
  describeError,
  isCancel,
  MAX_NEW_TOKENS,
  SIDES,
  stepBatcher,
  type CommandContext,
} from './shared.ts';

type Which = 'runs' | 'cross';
type Call = (
  info: ModelInfo,
  callbacks: { onPrompt(p: PromptInfo): void; onStep(s: StepRecord): void },
  signal: AbortSignal,
) => Promise<RunSummary>;

export function createRunner(ctx: CommandContext, loadSide: (side: Side) => Promise<ModelInfo | null>) {
  const { engine, store, handles } = ctx;
  let live: { ctl: AbortController; side: Side; which: Which; stop(): void }[] = [];

  function panelFields(side: Side, info: ModelInfo, source: 'generate' | 'score') {
    const id = handles[side]?.id ?? '';
    const name = store.getState().registry.find((r) => r.id === id)?.name ?? store.getState().custom[id]?.name;
    return { side, modelId: id, modelName: name ?? info.name, source };
  }

  /** One panel's call: load its model, stream its steps, end it as done / stopped / error. */
  async function stream(side: Side, which: Which, call: Call): Promise<void> {
    const st = store.getState();
    st.startPanel(side, which);
    st.clearError(`run-${side}`);
    // Registered before the model load, so Stop also ends a run still waiting for its checkpoint.
    const ctl = new AbortController();
    const batch = stepBatcher((steps) => {
      if (!ctl.signal.aborted) store.getState().addSteps(side, which, steps);
    });
    const entry = {
      ctl,
      side,
      which,
      stop() {
        // Once only: a second Stop (or a store listener that stops on every change) must not finish the panel again.
        if (ctl.signal.aborted) return;
        batch.drop();
        ctl.abort();
        store.getState().finishPanel(side, which, 'stopped');
      },
    };
    live.push(entry);
    try {
      const info = await loadSide(side);
      if (ctl.signal.aborted) return;
      if (!info) {
        store.getState().finishPanel(side, which, 'error');
        return;
      }
      const source = which === 'runs' ? 'generate' : 'score';
      try {
        const summary = await call(
          info,
          {
            onPrompt: (p) => {
              if (!ctl.signal.aborted) store.getState().setPrompt(side, which, panelFields(side, info, source), p);
            },
            onStep: batch.push,
          },
          ctl.signal,
        );
        if (ctl.signal.aborted) {
          // Stopped: the timings the engine measured are kept; tokens and text are what stayed on screen.
          store.getState().attachStoppedSummary(side, which, summary);
          return;
        }
        batch.flush();
        const status: PanelRun['status'] = summary.stoppedBy === 'cancel' ? 'stopped' : 'done';
        store.getState().finishPanel(side, which, status, summary);
      } catch (e) {
        if (ctl.signal.aborted) return;
        batch.flush();
        if (isCancel(e)) store.getState().finishPanel(side, which, 'stopped');
        else {
          store.getState().finishPanel(side, which, 'error');
          store.getState().setError(`run-${side}`, describeError(e, `The ${side} model could not answer`));
        }
      }
    } finally {
      live = live.filter((l) => l !== entry);
    }
  }

  /** The image and question to run on, or null after showing what is missing. */
  function validInput(): { image: ImageInput; question: string } | null {
    const s = store.getState();
    let ok = true;
    if (!s.image) {
      s.setError('image', 'Pick, drop or paste an image first (or choose a sample).');
      ok = false;
    }
    if (!s.question.trim()) {
      s.setError('question', 'Type a question before running.');
      ok = false;
    } else s.clearError('question');
    return ok && s.image ? { image: dataUrlToImage(s.image.dataUrl), question: s.question.trim() } : null;
  }

  return {
    stream,
    validInput,
    async run() {
      const input = validInput();
      if (!input) return;
      await Promise.all(
        SIDES.map((side) =>
          stream(side, 'runs', (info, callbacks, signal) =>
            engine.generate(info.handle, { ...input, maxNewTokens: MAX_NEW_TOKENS }, callbacks, signal),
          ),
        ),
      );
    },
    /** Ends every running panel now (each keeps the tokens it has). */
    stop() {
      for (const l of [...live]) l.stop();
    },
  };
}
