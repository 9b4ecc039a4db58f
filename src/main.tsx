/**
 * @file Entry point: starts the engine worker, the app's effects (session keeping, model loading) and mounts React.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createWorkerEngine } from './engine/client.ts';
import type { ModelInfo } from './engine/types.ts';
import { startEffects } from './state/effects.ts';
import { useLens } from './state/store.ts';
import { App } from './ui/App.tsx';
import { CommandsContext } from './ui/commands.tsx';
import { ErrorBoundary } from './ui/ErrorBoundary.tsx';
import './ui/styles.css';

// A model the engine reloads in a fresh worker (device lost, WebGPU enabled, more WASM threads) shows its new info.
// eslint-disable-next-line prefer-const -- assigned below: the engine's callback needs it before the commands exist
let modelInfoChanged: ((info: ModelInfo) => void) | undefined;
const engine = createWorkerEngine({ onModelInfo: (info) => modelInfoChanged?.(info) });
const { commands } = startEffects(engine, useLens);
modelInfoChanged = commands.modelInfoChanged;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <CommandsContext.Provider value={commands}>
      <ErrorBoundary>
        <App />
      </ErrorBoundary>
    </CommandsContext.Provider>
  </StrictMode>,
);
