/**
 * @file The app's last line of defence: a rendering error anywhere below shows one message with a "Show the app
 * again" button instead of a blank page. The store is not touched, so the session (image, question, regions,
 * answers, view) is still there, and still kept in IndexedDB, when the view comes back.
 */
import { Component, type ErrorInfo, type ReactNode } from 'react';

interface State {
  error: Error | null;
}

/** Catches render errors of its children; `onError` is told about each one (default: console.error). */
export class ErrorBoundary extends Component<
  { children: ReactNode; onError?: (error: Error, info: ErrorInfo) => void },
  State
> {
  state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    (this.props.onError ?? ((e: Error) => console.error('SAYO Lens view error:', e)))(error, info);
  }

  render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="errors" role="alert" data-testid="view-error">
        <p>
          Part of the view failed to draw ({error.name}: {error.message.slice(0, 300)}). Your session — image, question,
          regions and answers — is kept.
        </p>
        <button type="button" data-testid="view-error-retry" onClick={() => this.setState({ error: null })}>
          Show the app again
        </button>
      </div>
    );
  }
}
