/**
 * @file Loading the checkpoint pair: each side with per-file progress and the backend's reason; a failed side can be
 * retried; a backend change starts a fresh engine worker and reloads both sides there (answers on screen are kept).
 * Every load belongs to an epoch: a load that finishes after a backend change is dropped instead of shown.
 */
import type { ModelInfo } from '../../engine/types.ts';
import type { Side } from '../../session/types.ts';
import { describeError, isCancel, SIDES, type CommandContext } from './shared.ts';

/** An engine that can start over in a fresh worker (the browser's worker engine). */
interface Resettable {
  reset(): void;
}

const canReset = (e: unknown): e is Resettable => typeof (e as Partial<Resettable>).reset === 'function';

export function createLoader(ctx: CommandContext) {
  const { engine, store, handles } = ctx;
  let epoch = 0;
  let loading: Partial<Record<Side, Promise<ModelInfo | null>>> = {};
  /** Loads in progress: Stop aborts them too (a model URL that stalls must not keep a run waiting). */
  const loadControllers = new Set<AbortController>();

  /** Loads `side`'s pick on the current backend (no-op when it is loaded already). */
  function loadSide(side: Side): Promise<ModelInfo | null> {
    const id = store.getState().pair[side];
    const backend = store.getState().backend;
    const have = handles[side];
    if (have && have.id === id && have.backend === backend) return Promise.resolve(have.info);
    const pending = loading[side];
    if (pending) return pending;
    const mine = epoch;
    const current = () => mine === epoch && store.getState().pair[side] === id && store.getState().backend === backend;
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
        const source = store.getState().custom[id]?.source ?? { kind: 'registry' as const, id };
        const info = await engine.load(
          source,
          { backend },
          (p) => {
            if (mine === epoch) store.getState().setFileProgress(side, p);
          },
          lc.signal,
        );
        if (!current()) return null;
        handles[side] = { id, backend, info };
        store.getState().setModelReady(side, info);
        return info;
      } catch (e) {
        // A load cut short by a backend change is not a failure of the model.
        if (mine !== epoch && isCancel(e)) return null;
        if (!current()) return null;
        const message = describeError(e, `The ${side} model "${id}" failed to load`);
        store.getState().setModelFailed(side, message);
        store.getState().setError(`model-${side}`, message);
        return null;
      }
    })();
    loading[side] = job;
    void job.finally(() => {
      loadControllers.delete(lc);
      if (loading[side] === job) delete loading[side];
    });
    return job;
  }

  return {
    loadSide,
    /** Aborts every load in progress (Stop). */
    stopLoads() {
      for (const c of loadControllers) c.abort();
    },
    async loadPair() {
      await Promise.all(SIDES.map(loadSide));
    },
    /**
     * The engine reloaded a loaded model under its handle (a fresh worker: WebGPU device lost, WebGPU enabled, or more
     * WASM threads for another model): its side shows the new info (backend, threads).
     */
    modelInfoChanged(info: ModelInfo) {
      for (const side of SIDES) {
        const h = handles[side];
        if (h?.info.handle !== info.handle) continue;
        h.info = info;
        if (store.getState().status[side].state === 'ready') store.getState().setModelReady(side, info);
      }
    },
    /** The backend changed: a fresh engine (when it can restart) and both sides reloaded on the new backend. */
    async switchBackend() {
      epoch++;
      loading = {};
      const old = SIDES.map((side) => handles[side]).filter((h) => !!h);
      for (const side of SIDES) delete handles[side];
      if (canReset(engine)) engine.reset();
      else await Promise.all(old.map((h) => engine.unload(h.info.handle).catch(() => undefined)));
      await Promise.all(SIDES.map(loadSide));
    },
  };
}
