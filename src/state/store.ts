/**
 * @file The app's single zustand store, composed from slices (input, models, run, view, errors). Components select
 * narrow fields and call actions; only src/state/effects.ts talks to the engine.
 */
import { create } from 'zustand';
import { createErrorsSlice, type ErrorsSlice } from './slices/errors.ts';
import { createInputSlice, type InputSlice } from './slices/input.ts';
import { createModelsSlice, type ModelsSlice } from './slices/models.ts';
import { createRunSlice, type RunSlice } from './slices/run.ts';
import { createViewSlice, type ViewSlice } from './slices/view.ts';

/** The whole app state: the union of the slices. */
export type LensState = InputSlice & ModelsSlice & RunSlice & ViewSlice & ErrorsSlice;

/** Builds a fresh store (the app uses one; tests build their own). */
export function createLensStore() {
  return create<LensState>()((set, get, api) => ({
    ...createInputSlice(set, get, api),
    ...createModelsSlice(set, get, api),
    ...createRunSlice(set, get, api),
    ...createViewSlice(set, get, api),
    ...createErrorsSlice(set, get, api),
  }));
}

/** The app's store hook. */
export const useLens = createLensStore();

/** The store type (a bound hook with getState / setState / subscribe). */
export type LensStore = typeof useLens;
