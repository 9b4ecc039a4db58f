/**
 * @file The only module that talks to the engine: loads the checkpoint pair (with per-file progress and the
 * backend's reason), runs both models on the current input with streaming steps, stops them, and cross-scores one
 * answer under the other model. Components call these commands; they never touch the engine.
 */
import type { AttentionEngine, ImageInput, ModelInfo, PromptInfo, RunSummary, StepRecord } from '../engine/types';
import type { Side } from '../session/types';
import type { LensStore } from './store';
import type { RegistryEntry } from '../engine/registry';
import type { PanelRun } from './slices/run';
import { keepSession, restoreSession } from './keep';

/** What the UI can ask for. */
export interface LensCommands {
  /** Loads both checkpoints of the pair (no-op for a side already loaded with the same id). */
  loadPair(): Promise<void>;
  /** Runs both models on the image and question, streaming side by side. */
  run(): Promise<void>;
  /** Stops every running generation (each panel keeps the tokens it has). */
  stop(): void;
  /** Teacher-forces each model's answer through the other model (identical tokens in both panels). */
  crossScore(): Promise<void>;
}

const SIDES: Side[] = ['base', 'trained'];
/** Tokens generated per answer. */
export const MAX_NEW_TOKENS = 32;

/** Bytes of a base64 data URL (the image as the engine receives it). */
export function dataUrlToImage(dataUrl: string): ImageInput {
  const comma = dataUrl.indexOf(',');
  const mime = dataUrl.slice(5, dataUrl.indexOf(';'));
  const bin = atob(dataUrl.slice(comma + 1));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return { kind: 'encoded', bytes, mime };
}

/** A user-facing message for an engine failure (EngineError codes cross the worker as plain data). */
export function describeError(e: unknown, what: string): string {
  const code = (e as { code?: string })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  const hint: Record<string, string> = {
    missing_file: 'a file of the checkpoint is missing',
    corrupt_model: 'the checkpoint is corrupt',
    unsupported_architecture: 'this architecture is not supported',
    bad_image: 'the image could not be used',
    bad_input: 'the input was rejected',
    device_lost: 'the GPU device was lost',
    out_of_memory: 'out of memory',
  };
  return `${what}: ${code && hint[code] ? `${hint[code]} — ` : ''}${msg}`;
}

/**
 * Collects streamed steps and hands them over at most once per animation frame (every 16 ms outside a browser), so
 * a fast model does not re-render the page for every token.
 */
export function stepBatcher(deliver: (steps: StepRecord[]) => void) {
  let pending: StepRecord[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const steps = pending;
    pending = [];
    deliver(steps);
  };
  const schedule = typeof requestAnimationFrame === 'function' ? requestAnimationFrame : (f: () => void) => setTimeout(f, 16);
  return {
    push(step: StepRecord) {
      pending.push(step);
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    flush,
  };
}

const isCancel = (e: unknown) => (e as { code?: string })?.code === 'cancelled' || (e as Error)?.name === 'AbortError';

/** Builds the commands over an engine and a store. */
export function createCommands(engine: AttentionEngine, store: LensStore): LensCommands {
  const handles: Partial<Record<Side, { id: string; backend: string; info: ModelInfo }>> = {};
  const loading: Partial<Record<Side, Promise<ModelInfo | null>>> = {};
  let controllers: AbortController[] = [];
  /** Loads in progress: Stop aborts them too (a model URL that stalls must not keep a run waiting). */
  const loadControllers = new Set<AbortController>();

  async function loadSide(side: Side): Promise<ModelInfo | null> {
    const id = store.getState().pair[side];
    const backend = store.getState().backend;
    const have = handles[side];
    if (have && have.id === id && have.backend === backend) return have.info;
    const pending = loading[side];
    if (pending) return pending;
    const s = store.getState();
    s.setModelLoading(side);
    s.clearError(`model-${side}`);
    const lc = new AbortController();
    loadControllers.add(lc);
    const job = (async () => {
      try {
        if (have) {
          delete handles[side];
          await engine.unload(have.info.handle).catch(() => undefined);
        }
        const source = store.getState().custom[id]?.source ?? { kind: 'registry', id };
        const info = await engine.load(source, { backend }, (p) => store.getState().setFileProgress(side, p), lc.signal);
        if (store.getState().pair[side] !== id) return null;
        handles[side] = { id, backend, info };
        store.getState().setModelReady(side, info);
        return info;
      } catch (e) {
        const message = describeError(e, `The ${side} model "${id}" failed to load`);
        store.getState().setModelFailed(side, message);
        store.getState().setError(`model-${side}`, message);
        return null;
      } finally {
        delete loading[side];
        loadControllers.delete(lc);
      }
    })();
    loading[side] = job;
    return job;
  }

  function panelFields(side: Side, info: ModelInfo, source: 'generate' | 'score') {
    const id = handles[side]?.id ?? '';
    const name = store.getState().registry.find((r) => r.id === id)?.name ?? store.getState().custom[id]?.name;
    return { side, modelId: id, modelName: name ?? info.name, source };
  }

  async function stream(
    side: Side,
    which: 'runs' | 'cross',
    call: (
      info: ModelInfo,
      callbacks: { onPrompt(p: PromptInfo): void; onStep(s: StepRecord): void },
      signal: AbortSignal,
    ) => Promise<unknown>,
  ): Promise<void> {
    const st = store.getState();
    st.startPanel(side, which);
    st.clearError(`run-${side}`);
    // Registered before the model load, so Stop also ends a run still waiting for its checkpoint.
    const ctl = new AbortController();
    controllers.push(ctl);
    const info = await loadSide(side);
    if (!info || ctl.signal.aborted) {
      controllers = controllers.filter((c) => c !== ctl);
      store.getState().finishPanel(side, which, info || ctl.signal.aborted ? 'stopped' : 'error');
      return;
    }
    const source = which === 'runs' ? 'generate' : 'score';
    let status: PanelRun['status'] = 'done';
    const batch = stepBatcher((steps) => store.getState().addSteps(side, which, steps));
    try {
      const summary = (await call(
        info,
        {
          onPrompt: (p) => store.getState().setPrompt(side, which, panelFields(side, info, source), p),
          onStep: batch.push,
        },
        ctl.signal,
      )) as RunSummary;
      batch.flush();
      if (summary.stoppedBy === 'cancel') status = 'stopped';
      store.getState().finishPanel(side, which, status, summary);
    } catch (e) {
      batch.flush();
      // After Stop, whatever the aborted call throws ends the panel as stopped (the engine may fail instead of
      // cancelling when stopped before its first token).
      if (isCancel(e) || ctl.signal.aborted) store.getState().finishPanel(side, which, 'stopped');
      else {
        store.getState().finishPanel(side, which, 'error');
        store.getState().setError(`run-${side}`, describeError(e, `The ${side} model could not answer`));
      }
    } finally {
      controllers = controllers.filter((c) => c !== ctl);
    }
  }

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
    async loadPair() {
      await Promise.all(SIDES.map(loadSide));
    },
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
    stop() {
      for (const c of controllers) c.abort();
      for (const c of loadControllers) c.abort();
    },
    async crossScore() {
      const input = validInput();
      if (!input) return;
      const s = store.getState();
      const answers = { base: s.runs.base.panel, trained: s.runs.trained.panel };
      if (!answers.base?.steps.length || !answers.trained?.steps.length) {
        s.setError('run-base', 'Run both models first: cross-scoring teacher-forces one answer through the other model.');
        return;
      }
      // cross[side] = the OTHER side's answer scored under `side`'s model.
      await Promise.all(
        SIDES.map((side) => {
          const other = answers[side === 'base' ? 'trained' : 'base']!;
          const text = other.steps.map((t) => t.text).join('');
          // Token ids are only meaningful to the same tokenizer: pass them when both checkpoints share the architecture.
          const mine = handles[side]?.info;
          const theirs = handles[side === 'base' ? 'trained' : 'base']?.info;
          const same = !!mine && !!theirs && mine.modelType === theirs.modelType && mine.numLayers === theirs.numLayers && mine.numHeads === theirs.numHeads;
          const answer = same ? { answer: text, answerTokenIds: other.steps.map((t) => t.tokenId) } : { answer: text };
          return stream(side, 'cross', (info, callbacks, signal) => engine.score(info.handle, { ...input, ...answer }, callbacks, signal));
        }),
      );
      // Show the result: the base answer under both models (identical tokens side by side).
      const after = store.getState();
      if (after.cross.trained.status === 'done' && after.compare === 'own') after.setCompare('base-answer');
    },
  };
}

/** Where the registry is served (vite serves the repo's models/ folder at /models). */
export const REGISTRY_URL = 'models/registry.json';

/** Reads models/registry.json into the store (its default pair included); a failure is shown, the defaults stay. */
export async function loadRegistry(store: LensStore, url = REGISTRY_URL): Promise<void> {
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const file = (await res.json()) as { default?: [string, string]; models: RegistryEntry[] };
    const pair = file.default ? { base: file.default[0], trained: file.default[1] } : undefined;
    store.getState().setRegistry(file.models, pair);
  } catch (e) {
    store.getState().setError('model-base', `The model registry (${url}) could not be read: ${(e as Error).message}`);
  }
}

/**
 * Starts the app's effects: restores the kept session, keeps it on change, and loads the checkpoint pair (and
 * reloads a side when its pick changes). Returns the commands and a dispose function.
 */
export function startEffects(engine: AttentionEngine, store: LensStore): { commands: LensCommands; dispose(): void } {
  const commands = createCommands(engine, store);
  const asked = new URLSearchParams(location.search).get('backend');
  if (asked === 'wasm' || asked === 'webgpu' || asked === 'auto') store.getState().setBackend(asked);
  const disposeKeep = keepSession(store);
  void loadRegistry(store)
    .then(() => restoreSession(store))
    .then(() => commands.loadPair());
  const unsub = store.subscribe((s, prev) => {
    if (s.pair !== prev.pair || s.backend !== prev.backend) void commands.loadPair();
  });
  return {
    commands,
    dispose() {
      disposeKeep();
      unsub();
    },
  };
}
