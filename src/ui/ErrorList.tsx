/**
 * @file Every current error message, inline, each as text with `data-testid="error"` and a dismiss button.
 */
import { useLens } from '../state/store.ts';
import type { ErrorScope } from '../state/slices/errors.ts';

/** Errors of the given scopes (all when omitted), shown where the component is placed. */
export function ErrorList({ scopes }: { scopes?: ErrorScope[] }) {
  const errors = useLens((s) => s.errors);
  const clearError = useLens((s) => s.clearError);
  const shown = scopes ? errors.filter((e) => scopes.includes(e.scope)) : errors;
  if (shown.length === 0) return null;
  return (
    <ul className="errors" aria-live="assertive">
      {shown.map((e) => (
        <li key={e.scope} className="error" role="alert" data-testid="error" data-scope={e.scope}>
          <span>{e.message}</span>
          <button type="button" className="link" aria-label="Dismiss this message" onClick={() => clearError(e.scope)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
