// @vitest-environment happy-dom
/**
 * @file The error boundary: a view that throws while rendering shows one message and a retry button instead of a
 * blank page; the store (the session) is untouched; retry renders the view again.
 */
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { useLens } from '../state/store.ts';
import { ErrorBoundary } from './ErrorBoundary.tsx';

let broken = true;
function Fragile() {
  const question = useLens((s) => s.question);
  if (broken) throw new TypeError("Cannot read properties of undefined (reading 'rows')");
  return <p data-testid="view">{question}</p>;
}

afterEach(cleanup);

describe('ErrorBoundary', () => {
  it('shows a message instead of a blank page, keeps the session, and shows the view again on retry', () => {
    useLens.getState().setQuestion('What colour is the cup?');
    const caught: string[] = [];
    render(
      <ErrorBoundary onError={(e) => caught.push(e.message)}>
        <Fragile />
      </ErrorBoundary>,
    );
    expect(screen.getByTestId('view-error').textContent).toMatch(
      /Part of the view failed to draw \(TypeError: .*\)\. Your session .* is kept\./,
    );
    expect(caught).toHaveLength(1);
    expect(useLens.getState().question).toBe('What colour is the cup?');
    broken = false;
    fireEvent.click(screen.getByTestId('view-error-retry'));
    expect(screen.getByTestId('view').textContent).toBe('What colour is the cup?');
    expect(screen.queryByTestId('view-error')).toBeNull();
  });
});
