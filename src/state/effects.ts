/**
 * @file The app's effects: restores the kept session, keeps it on every change, loads the checkpoint pair and
 * reloads it when a pick or the backend changes. The engine commands themselves live in ./commands/ (one module per
 * command: load, run/stop, cross-score); this module wires them to the store.
 */
import type { RegistryEntry } from '../engine/registry.ts';
import type { AttentionEngine } from '../engine/types.ts';
import { createCommands, type LensCommands } from './commands/index.ts';
import { keepSession, restoreSession } from './keep.ts';
import type { LensStore } from './store.ts';

export {
  createCommands,
  dataUrlToImage,
  describeError,
  MAX_NEW_TOKENS,
  stepBatcher,
  type LensCommands,
} from './commands/index.ts';

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

/** The backend asked for in the URL (`?backend=wasm|webgpu|auto`), or null. */
export function backendFromUrl(search: string): 'wasm' | 'webgpu' | 'auto' | null {
  const asked = new URLSearchParams(search).get('backend');
  return asked === 'wasm' || asked === 'webgpu' || asked === 'auto' ? asked : null;
}

/** Mirrors the backend choice in the URL, so a reload keeps it ('auto', the default, leaves no parameter). */
function keepBackendInUrl(backend: string): void {
  const url = new URL(location.href);
  if (backend === 'auto') url.searchParams.delete('backend');
  else url.searchParams.set('backend', backend);
  if (url.href !== location.href) history.replaceState(history.state, '', url);
}

/**
 * Starts the app's effects: restores the kept session, keeps it on change, and loads the checkpoint pair (a side
 * reloads when its pick changes; both reload in a fresh engine when the backend changes). Returns the commands and a
 * dispose function.
 */
export function startEffects(engine: AttentionEngine, store: LensStore): { commands: LensCommands; dispose(): void } {
  const commands = createCommands(engine, store);
  const asked = backendFromUrl(location.search);
  if (asked) store.getState().setBackend(asked);
  const disposeKeep = keepSession(store);
  void loadRegistry(store)
    .then(() => restoreSession(store))
    .then(() => commands.loadPair());
  const unsub = store.subscribe((s, prev) => {
    if (s.backend !== prev.backend) {
      keepBackendInUrl(s.backend);
      void commands.switchBackend();
    } else if (s.pair !== prev.pair) void commands.loadPair();
  });
  return {
    commands,
    dispose() {
      disposeKeep();
      unsub();
    },
  };
}
