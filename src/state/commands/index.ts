/**
 * @file The engine commands the UI calls (built once over an engine and a store): load / retry / switch backend,
 * run, stop, cross-score. Components never touch the engine.
 */
import type { AttentionEngine, ModelInfo } from '../../engine/types.ts';
import type { Side } from '../../session/types.ts';
import type { LensStore } from '../store.ts';
import { createCrossScore } from './cross.ts';
import { createLoader } from './load.ts';
import { createRunner } from './run.ts';
import type { CommandContext } from './shared.ts';

export { dataUrlToImage, describeError, MAX_NEW_TOKENS, stepBatcher } from './shared.ts';

/** What the UI can ask for. */
export interface LensCommands {
  /** Loads both checkpoints of the pair (no-op for a side already loaded with the same id and backend). */
  loadPair(): Promise<void>;
  /** Loads one side again (the Retry button of a failed load). */
  retryLoad(side: Side): Promise<void>;
  /** Stops what runs, starts a fresh engine and reloads both sides on the store's backend; answers stay. */
  switchBackend(): Promise<void>;
  /** Runs both models on the image and question, streaming side by side. */
  run(): Promise<void>;
  /** Stops every running generation at once (each panel keeps the tokens it has). */
  stop(): void;
  /** Teacher-forces each model's answer through the other model (identical tokens in both panels). */
  crossScore(): Promise<void>;
  /** A loaded model's info changed under its handle (the engine reloaded it in a fresh worker). */
  modelInfoChanged(info: ModelInfo): void;
}

/** Builds the commands over an engine and a store. */
export function createCommands(engine: AttentionEngine, store: LensStore): LensCommands {
  const ctx: CommandContext = { engine, store, handles: {} };
  const loader = createLoader(ctx);
  const runner = createRunner(ctx, loader.loadSide);
  return {
    loadPair: loader.loadPair,
    retryLoad: async (side) => void (await loader.loadSide(side)),
    async switchBackend() {
      runner.stop();
      await loader.switchBackend();
    },
    run: runner.run,
    stop() {
      runner.stop();
      loader.stopLoads();
    },
    crossScore: createCrossScore(ctx, runner),
    modelInfoChanged: loader.modelInfoChanged,
  };
}
