// @vitest-environment happy-dom
/**
 * Loading feedback from the real engine in Node: while SAYO-mini loads, each file's progress is listed; once ready,
 * the backend and the engine's reason are shown; a failed load shows its message inline and can be dismissed.
 */
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, expect, it } from 'vitest';
import { createNodeEngine } from '../../engine/node.ts';
import { useLens } from '../../state/store.ts';
import { ErrorList } from '../ErrorList.tsx';
import { ModelPair } from './ModelPair.tsx';

afterEach(cleanup);

it('lists per-file progress while loading, then the backend and why', async () => {
  render(<ModelPair />);
  const engine = createNodeEngine();
  const s = useLens.getState();
  act(() => s.setModelLoading('trained'));
  const lines: string[] = [];
  const info = await engine.load({ kind: 'registry', id: 'sayo-mini' }, {}, (p) => {
    act(() => useLens.getState().setFileProgress('trained', p));
    lines.push(...Array.from(screen.getByTestId('model-status-trained').querySelectorAll('li'), (li) => li.textContent ?? ''));
  });
  expect(lines.some((l) => /^onnx\/decoder_model_merged\.onnx: \d+\.\d \/ \d+\.\d MB/.test(l))).toBe(true);
  act(() => useLens.getState().setModelReady('trained', info));
  const status = screen.getByTestId('model-status-trained');
  expect(status.getAttribute('data-state')).toBe('ready');
  expect(screen.getByTestId('backend-badge-trained').textContent).toBe(`CPU · ${info.threads} thread${info.threads! > 1 ? 's' : ''}`);
  expect(info.threads).toBe(1); // SAYO-mini: one intra-op thread (threads.ts)
  expect(status.textContent).toContain(info.backendReason);
  await engine.unload(info.handle);
});

it('a failed load is an inline, dismissible message', async () => {
  render(
    <>
      <ModelPair />
      <ErrorList />
    </>,
  );
  const engine = createNodeEngine();
  const err = await engine.load({ kind: 'registry', id: 'no-such-model' }).catch((e: Error) => e);
  act(() => {
    useLens.getState().setModelFailed('base', `The base model failed to load: ${(err as Error).message}`);
    useLens.getState().setError('model-base', `The base model failed to load: ${(err as Error).message}`);
  });
  expect(screen.getByTestId('model-status-base').getAttribute('data-state')).toBe('error');
  expect(screen.getByTestId('error').textContent).toContain('no-such-model');
  fireEvent.click(screen.getByRole('button', { name: 'Dismiss this message' }));
  expect(screen.queryByTestId('error')).toBeNull();
});
