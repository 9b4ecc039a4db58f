/**
 * @file Models slice: the registry entries, the checkpoint pair (base vs trained), and each side's load status with
 * per-file download progress and the backend the engine chose (and why).
 */
import type { StateCreator } from 'zustand';
import type { LensState } from '../store.ts';
import type { Backend, FileProgress, ModelInfo, ModelSource } from '../../engine/types.ts';
import type { Side } from '../../session/types.ts';
import type { RegistryEntry } from '../../engine/registry.ts';

export type { RegistryEntry };

/** Load state of one side of the pair. */
export interface ModelStatus {
  state: 'idle' | 'loading' | 'ready' | 'error';
  /** Download progress per file, keyed by file name. */
  files: Record<string, FileProgress>;
  info: ModelInfo | null;
  error: string | null;
}

/** The embedded pair, the default until models/registry.json says otherwise. */
export const DEFAULT_PAIR: Record<Side, string> = { base: 'sayo-mini-base', trained: 'sayo-mini' };

export const idleStatus = (): ModelStatus => ({ state: 'idle', files: {}, info: null, error: null });

/** The backend the user asks for ('auto': WebGPU when an adapter exists, else WASM). */
export type BackendChoice = Backend | 'auto';

/** A checkpoint the user added (a picked folder or a URL), selectable like a registry entry. */
export interface CustomModel {
  name: string;
  source: ModelSource;
}

export interface ModelsSlice {
  registry: RegistryEntry[];
  /** User-added checkpoints by id (`folder:<name>` or `url:<url>`). */
  custom: Record<string, CustomModel>;
  backend: BackendChoice;
  pair: Record<Side, string>;
  status: Record<Side, ModelStatus>;
  /** Sets the registry entries and, when given, the default pair. */
  setRegistry(entries: RegistryEntry[], pair?: Record<Side, string>): void;
  setPairModel(side: Side, id: string): void;
  /** Adds a checkpoint (picked folder or URL) and selects it for `side`. */
  addCustomModel(side: Side, id: string, model: CustomModel): void;
  /** Changes the requested backend (both sides reload). */
  setBackend(backend: BackendChoice): void;
  setModelLoading(side: Side): void;
  setFileProgress(side: Side, p: FileProgress): void;
  setModelReady(side: Side, info: ModelInfo): void;
  setModelFailed(side: Side, message: string): void;
}

/**
 * Overall progress of one side in [0, 1]: bytes loaded over bytes known, a finished file counting as whole (a file
 * served without a length reports total 0), 1 when every file is done; null before any file reports a size.
 */
export function loadFraction(status: ModelStatus): number | null {
  const files = Object.values(status.files);
  if (files.length > 0 && files.every((f) => f.done)) return 1;
  const total = files.reduce((t, f) => t + Math.max(f.total, f.loaded), 0);
  if (files.length === 0 || total <= 0) return null;
  return (
    files.reduce((t, f) => t + (f.done ? Math.max(f.total, f.loaded) : Math.min(f.loaded, f.total || f.loaded)), 0) /
    total
  );
}

export const createModelsSlice: StateCreator<LensState, [], [], ModelsSlice> = (set) => ({
  registry: [],
  custom: {},
  backend: 'auto',
  pair: { ...DEFAULT_PAIR },
  status: { base: idleStatus(), trained: idleStatus() },
  setRegistry: (registry, pair) => set(pair ? { registry, pair } : { registry }),
  setPairModel: (side, id) =>
    set((s) => ({ pair: { ...s.pair, [side]: id }, status: { ...s.status, [side]: idleStatus() } })),
  addCustomModel: (side, id, model) =>
    set((s) => ({
      custom: { ...s.custom, [id]: model },
      pair: { ...s.pair, [side]: id },
      status: { ...s.status, [side]: idleStatus() },
    })),
  setBackend: (backend) => set({ backend, status: { base: idleStatus(), trained: idleStatus() } }),
  setModelLoading: (side) => set((s) => ({ status: { ...s.status, [side]: { ...idleStatus(), state: 'loading' } } })),
  setFileProgress: (side, p) =>
    set((s) => {
      const cur = s.status[side];
      return { status: { ...s.status, [side]: { ...cur, files: { ...cur.files, [p.file]: p } } } };
    }),
  setModelReady: (side, info) =>
    set((s) => ({ status: { ...s.status, [side]: { ...s.status[side], state: 'ready', info, error: null } } })),
  setModelFailed: (side, message) =>
    set((s) => ({
      status: { ...s.status, [side]: { ...s.status[side], state: 'error', info: null, error: message } },
    })),
});
