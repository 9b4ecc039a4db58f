/**
 * @file Errors slice: every message the user must see, keyed by where it came from, so a new error of one kind
 * replaces the old one of that kind and clearing one never hides another.
 */
import type { StateCreator } from 'zustand';
import type { LensState } from '../store.ts';

/** Where an error came from (one message per scope at a time). */
export type ErrorScope =
  | 'image'
  | 'question'
  | 'boxes'
  | 'model-base'
  | 'model-trained'
  | 'run-base'
  | 'run-trained'
  | 'session'
  | 'view'
  | 'export';

/** One message shown inline with `data-testid="error"`. */
export interface AppError {
  scope: ErrorScope;
  message: string;
}

export interface ErrorsSlice {
  errors: AppError[];
  /** Shows `message` for `scope`, replacing an earlier message of the same scope. */
  setError(scope: ErrorScope, message: string): void;
  /** Removes the message of `scope` (no-op when there is none). */
  clearError(scope: ErrorScope): void;
}

/** Pure update: the errors list with `scope` set to `message`. */
export function withError(errors: AppError[], scope: ErrorScope, message: string): AppError[] {
  return [...errors.filter((e) => e.scope !== scope), { scope, message }];
}

export const createErrorsSlice: StateCreator<LensState, [], [], ErrorsSlice> = (set) => ({
  errors: [],
  setError: (scope, message) => set((s) => ({ errors: withError(s.errors, scope, message) })),
  clearError: (scope) =>
    set((s) => (s.errors.some((e) => e.scope === scope) ? { errors: s.errors.filter((e) => e.scope !== scope) } : s)),
});
