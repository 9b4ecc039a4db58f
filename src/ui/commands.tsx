/**
 * @file React access to the engine commands (built once in main.tsx by src/state/effects.ts).
 */
import { createContext, useContext } from 'react';
import type { LensCommands } from '../state/effects.ts';

/** Provided by the app root; null in views that run without an engine (tests of pure views). */
export const CommandsContext = createContext<LensCommands | null>(null);

/** The engine commands, or null when the app runs without an engine. */
export function useCommands(): LensCommands | null {
  return useContext(CommandsContext);
}
