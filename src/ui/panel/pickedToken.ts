/**
 * @file Which token of ITS OWN answer a panel shows for the shared pick: the same index when the answer has it, else
 * its last token (an answer shorter than the other one ends there). Aggregates pass through.
 */
import type { ViewState } from '../../session/types.ts';

/** The panel's token for the view's token, or the aggregate; null for an empty answer. */
export function panelToken(token: ViewState['token'], count: number): ViewState['token'] | null {
  if (typeof token !== 'number') return token;
  if (count <= 0) return null;
  return Math.min(Math.max(0, token), count - 1);
}
