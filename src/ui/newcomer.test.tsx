// @vitest-environment happy-dom
// @vitest-environment-options {"url":"http://localhost:3000/","settings":{"fetch":{"virtualServers":[{"url":"http://localhost:3000/","directory":"./public"}]}}}
/**
 * What a newcomer met on a first visit, checked over REAL SAYO-mini output (recorded in a child process as in
 * App.test.tsx): a picked token or layer the panels do not hold never blocks saving, empty panels still show the image
 * and the region layer, arrow keys step from the picked token, URL view values are checked against the panels, the
 * compare options and the loading step say what they wait for, both token strips share one R_a colour range, and grids
 * are written width × height like image sizes. (A sample's question leaving with its image: e2e/newcomer.spec.ts.)
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { panelGrid } from '../state/derive.ts';
import { restoreSession } from '../state/keep.ts';
import { applySession, buildSession } from '../state/session.ts';
import { idleStatus } from '../state/slices/models.ts';
import { useLens } from '../state/store.ts';
import { parseSession, serializeSession } from '../session/serialize.ts';
import type { LensSession } from '../session/types.ts';
import { App } from './App.tsx';
import { CommandsContext } from './commands.tsx';

const ROOT = path.resolve(import.meta.dirname, '../..');

function renderApp() {
  return render(
    <CommandsContext.Provider value={null}>
      <App />
    </CommandsContext.Provider>,
  );
}

let recorded: LensSession;

beforeAll(() => {
  const text = execFileSync('npx', ['tsx', path.join(ROOT, 'lab/testutils/record-session.ts'), '0'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  recorded = parseSession(text);
});

function load(session: LensSession = recorded) {
  act(() => {
    applySession(useLens, session);
    useLens.getState().setMultiples(false);
    useLens.getState().setHover(null);
    useLens.setState({ status: { base: idleStatus(), trained: idleStatus() } });
    for (const e of [...useLens.getState().errors]) useLens.getState().clearError(e.scope);
  });
}

afterEach(() => cleanup());

const steps = (side: 'base' | 'trained') => useLens.getState().runs[side].panel!.steps.length;

describe('saving never breaks on a view value the panels do not hold', () => {
  it('a picked token beyond the answers and an uncaptured layer are clamped in the kept session, which then parses', () => {
    load();
    const longest = Math.max(steps('base'), steps('trained'));
    act(() => useLens.getState().setView({ token: longest + 7, layer: 42 }));
    const session = buildSession(useLens.getState())!;
    const back = parseSession(serializeSession(session));
    expect(back.view.token).toBe(longest - 1);
    expect(back.panels[0].steps[0].layers).toContain(back.view.layer);
  });

  it('a head index beyond the captured heads is clamped to the last head', () => {
    load();
    const heads = recorded.panels[0].steps[0].heads;
    act(() => useLens.getState().setView({ head: { kind: 'head', head: heads + 3 } }));
    const back = parseSession(serializeSession(buildSession(useLens.getState())!));
    expect(back.view.head).toEqual({ kind: 'head', head: heads - 1 });
  });
});

describe('panels without tokens still show the image and the region layer', () => {
  it('an interrupted (reloaded) run with no token yet', () => {
    load({ ...recorded, panels: recorded.panels.map((p) => ({ ...p, steps: [], summary: undefined })) });
    renderApp();
    expect(screen.getByTestId('status-base').textContent).toMatch(/interrupted/);
    expect(screen.getByTestId('region-layer')).toBeTruthy();
    expect(screen.getByTestId('preview')).toBeTruthy();
  });

  it('a run stopped before its first token', () => {
    load({
      ...recorded,
      panels: recorded.panels.map((p) => ({
        ...p,
        steps: [],
        summary: { ...p.summary!, stoppedBy: 'cancel', tokens: 0, text: '' },
      })),
    });
    renderApp();
    expect(screen.getByTestId('status-trained').textContent).toMatch(/stopped/);
    expect(screen.getByTestId('region-layer')).toBeTruthy();
    expect(screen.getByTestId('preview')).toBeTruthy();
  });
});

describe('arrow keys and the panel header agree on the picked token', () => {
  it('arrow keys step from the picked token (not the hovered one), and hovering never claims the answer ends', () => {
    load();
    const n = Math.min(steps('base'), steps('trained'));
    expect(n).toBeGreaterThanOrEqual(4);
    renderApp();
    fireEvent.click(screen.getByTestId('token-trained-2'));
    fireEvent.mouseEnter(screen.getByTestId('token-trained-0'));
    for (const side of ['base', 'trained'])
      expect(screen.getByTestId(`picked-${side}`).textContent).not.toContain('ends at');
    fireEvent.keyDown(screen.getByRole('listbox', { name: /trained answer tokens/ }), { key: 'ArrowRight' });
    expect(useLens.getState().view.token).toBe(3);
    for (const side of ['base', 'trained']) {
      expect(screen.getByTestId(`picked-${side}`).getAttribute('data-index')).toBe('3');
      expect(screen.getByTestId(`picked-${side}`).textContent).not.toContain('ends at');
    }
  });

  it('an answer shorter than the pick still says where it ends', () => {
    load();
    const short = steps('base') <= steps('trained') ? 'base' : 'trained';
    const long = short === 'base' ? 'trained' : 'base';
    if (steps(short) === steps(long)) return; // equal lengths: nothing to clamp (the other tests still run)
    renderApp();
    fireEvent.click(screen.getByTestId(`token-${long}-${steps(long) - 1}`));
    expect(screen.getByTestId(`picked-${short}`).textContent).toContain(
      `this answer ends at #${steps(short) - 1} (picked #${steps(long) - 1})`,
    );
  });
});

describe('URL view values are checked against the restored panels', () => {
  it('?layer=42&token=999 is clamped to what the panels hold, and the message says so', async () => {
    load();
    const layers = recorded.panels[0].steps[0].layers;
    const longest = Math.max(steps('base'), steps('trained'));
    await act(() => restoreSession(useLens, '?layer=42&token=999&head=h77&mode=bogus'));
    const { view, errors } = useLens.getState();
    expect(view.token).toBe(longest - 1);
    expect(layers).toContain(view.layer === -1 ? layers.at(-1) : view.layer);
    expect(view.layer === -1 || layers.includes(view.layer)).toBe(true);
    expect(view.head).toEqual({ kind: 'head', head: recorded.panels[0].steps[0].heads - 1 });
    const msg = errors.find((e) => e.scope === 'view')?.message ?? '';
    expect(msg).toContain('layer=42');
    expect(msg).toContain('token=999');
    expect(msg).toContain('head=h77');
    expect(msg).toContain('mode=bogus');
    renderApp();
    expect(screen.getByTestId('picked-token').textContent).not.toContain('999');
  });
});

describe('the controls say what they wait for', () => {
  it('the cross-scored compare options say that Cross-score comes first', () => {
    load();
    renderApp();
    const select = screen.getByTestId('compare-mode') as HTMLSelectElement;
    expect([...select.options].filter((o) => o.disabled).length).toBe(2);
    expect(screen.getByTestId('compare-hint').textContent).toMatch(/Cross-score first/);
  });

  it('after every file arrived, the loading line names the step still running', () => {
    load();
    act(() => {
      const s = useLens.getState();
      s.setModelLoading('base');
      for (const file of ['config.json', 'decoder_model_merged.onnx'])
        s.setFileProgress('base', { file, loaded: 10, total: 10, done: true });
    });
    renderApp();
    const line = screen.getByTestId('model-status-base').textContent!;
    expect(line).toContain('2 / 2 files');
    expect(line).toMatch(/creating the ONNX Runtime sessions/);
  });
});

describe('one colour, one meaning', () => {
  it('both token strips colour R_a on one shared range', () => {
    load();
    act(() => useLens.getState().setView({ colorBy: 'ra', token: 'all' }));
    renderApp();
    const legend = (side: string) => screen.getByTestId(`strip-scale-${side}`).textContent;
    expect(legend('base')).toMatch(/R_a/);
    expect(legend('base')).toBe(legend('trained'));
  });

  it('grids are written width × height, like image sizes', () => {
    load();
    renderApp();
    const g = panelGrid(useLens.getState().runs.trained.panel!);
    expect(screen.getByTestId('spark-caption-trained').textContent).toContain(`grid ${g.cols}×${g.rows} cells (w×h)`);
  });
});
