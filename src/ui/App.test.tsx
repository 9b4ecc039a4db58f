// @vitest-environment happy-dom
// @vitest-environment-options {"url":"http://localhost:3000/","settings":{"fetch":{"virtualServers":[{"url":"http://localhost:3000/","directory":"./public"}]}}}
/**
 * The app's components over REAL model output: the SAYO-mini pair runs in Node (onnxruntime-node) through the same
 * commands the browser uses (recorded in a child process, since transformers.js takes its browser path under
 * happy-dom), then the views are driven like a user would (click, hover, arrow keys, keyboard region
 * editing, session import) and checked through the DOM.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { panelGrid, panelReward, targetsFor } from '../state/derive.ts';
import { applySession, buildSession } from '../state/session.ts';
import { useLens } from '../state/store.ts';
import { parseSession, serializeSession } from '../session/serialize.ts';
import type { Box } from '../core/geometry.ts';
import { computeReward, type Alignment } from '../core/reward.ts';
import { layerIndex } from '../core/aggregate.ts';
import { App } from './App.tsx';
import { CommandsContext } from './commands.tsx';
import { importSessionFile } from './ExportBar.tsx';

const ROOT = path.resolve(import.meta.dirname, '../..');
const S = (
  JSON.parse(fs.readFileSync(path.join(ROOT, 'public/samples/samples.json'), 'utf8')) as {
    image: string;
    question: string;
    boxes: Box[];
  }[]
)[0];

function renderApp() {
  return render(
    <CommandsContext.Provider value={null}>
      <App />
    </CommandsContext.Provider>,
  );
}

const rv = (side: string) => Number(screen.getByTestId(`reward-${side}`).getAttribute('data-rv'));
const ra = (side: string) => Number(screen.getByTestId(`reward-${side}`).getAttribute('data-ra'));

/** Real output: the SAYO-mini pair run in plain Node by the app's own commands (see lab/testutils/record-session.ts). */
function recordedSession(): string {
  return execFileSync('npx', ['tsx', path.join(ROOT, 'lab/testutils/record-session.ts'), '0'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
}

beforeAll(() => {
  applySession(useLens, parseSession(recordedSession()));
  expect(useLens.getState().runs.trained.panel!.steps.length).toBeGreaterThan(1);
  expect(useLens.getState().boxes).toEqual(S.boxes);
});

afterEach(() => {
  cleanup();
  act(() => {
    useLens.getState().setBoxes(S.boxes);
    useLens.getState().setView({ token: 'all' });
    useLens.getState().setHover(null);
    useLens.getState().setAlignment('produced');
  });
});

describe('App over real SAYO-mini output', () => {
  it('shows both answers and one token element per generated token', () => {
    renderApp();
    for (const side of ['base', 'trained'] as const) {
      const steps = useLens.getState().runs[side].panel!.steps;
      // Shown as text: special tokens (<|im_end|>) hidden; the token strip keeps every token.
      expect(screen.getByTestId(`answer-${side}`).textContent).toBe(
        steps
          .map((t) => t.text)
          .join('')
          .replace(/<\|[^|]*\|>/g, ''),
      );
      for (let i = 0; i < steps.length; i++)
        expect(screen.getByTestId(`token-${side}-${i}`).textContent).toBe(steps[i].text);
      expect(screen.queryByTestId(`token-${side}-${steps.length}`)).toBeNull();
    }
  });

  it('click, hover and arrow keys pick a token; data-ra follows the picked token', async () => {
    renderApp();
    const p = useLens.getState().runs.trained.panel!;
    const r = panelReward(p, p.steps[0].layers.at(-1)!, targetsFor(S.boxes, panelGrid(p)).targets)!;
    fireEvent.click(screen.getByTestId('token-trained-1'));
    expect(ra('trained')).toBeCloseTo(r.perToken[1].R_a, 10);
    expect(screen.getByTestId('picked-token').textContent).toContain('token 1');
    fireEvent.keyDown(screen.getByRole('listbox', { name: /trained answer tokens/ }), { key: 'ArrowRight' });
    expect(ra('trained')).toBeCloseTo(r.perToken[2].R_a, 10);
    fireEvent.mouseEnter(screen.getByTestId('token-trained-0'));
    expect(ra('trained')).toBeCloseTo(r.perToken[0].R_a, 10);
    fireEvent.mouseLeave(screen.getByRole('listbox', { name: /trained answer tokens/ }));
    expect(ra('trained')).toBeCloseTo(r.perToken[2].R_a, 10);
    expect(rv('trained')).toBeCloseTo(r.r_v, 10);
    // r_v tokens are marked.
    for (const i of r.selected) expect(screen.getByTestId(`token-trained-${i}`).className).toContain('counts');
  });

  it('regions by keyboard: add, move, delete; r_v recomputes live without re-running the model', () => {
    renderApp();
    const before = rv('base');
    const layer = screen.getByTestId('region-layer');
    fireEvent.keyDown(layer, { key: 'n' });
    expect(useLens.getState().boxes).toHaveLength(2);
    const added = rv('base');
    expect(added).not.toBeCloseTo(before, 6);
    fireEvent.keyDown(layer, { key: 'ArrowRight', shiftKey: true });
    const moved = useLens.getState().boxes[1];
    expect(moved[0]).toBeGreaterThan(0);
    expect(rv('base')).not.toBeCloseTo(added, 9);
    fireEvent.keyDown(layer, { key: 'ArrowDown', altKey: true });
    expect(useLens.getState().boxes[1][3]).toBeGreaterThan(moved[3]);
    fireEvent.keyDown(layer, { key: 'Delete' });
    expect(useLens.getState().boxes).toEqual(S.boxes);
    expect(rv('base')).toBeCloseTo(before, 12);
    // The same regions are in both panels.
    expect(screen.getByTestId('region-layer-trained').getAttribute('data-boxes')).toBe(
      layer.getAttribute('data-boxes'),
    );
  });

  it('the alignment switch re-scores both panels from the cache: the figures equal computeReward on the raw rows', () => {
    renderApp();
    /** The reward of a side from the raw attention of the last layer (no cache), under an alignment. */
    const raw = (side: 'base' | 'trained', alignment: Alignment) => {
      const p = useLens.getState().runs[side].panel!;
      const { heads, n, layers } = p.steps[0];
      const li = layerIndex(layers, layers.at(-1)!);
      const tokens = p.steps.map((s) => s.attention.subarray(li * heads * n, (li + 1) * heads * n));
      const targets = targetsFor(S.boxes, panelGrid(p)).targets!;
      return computeReward({ tokens, heads, n, targets, entropy: p.steps.map((s) => s.entropy), alignment });
    };
    for (const side of ['base', 'trained'] as const) {
      expect(screen.getByTestId(`reward-${side}`).getAttribute('data-alignment')).toBe('produced');
      expect(rv(side)).toBeCloseTo(raw(side, 'produced').r_v, 10);
    }
    fireEvent.change(screen.getByTestId('alignment-select'), { target: { value: 'input' } });
    expect(useLens.getState().alignment).toBe('input');
    for (const side of ['base', 'trained'] as const) {
      const input = raw(side, 'input');
      expect(screen.getByTestId(`reward-${side}`).getAttribute('data-alignment')).toBe('input');
      expect(screen.getByTestId(`alignment-${side}`).textContent).toMatch(
        /alignment input: tokens 0…\d+ scored, token t with row t \+ 1/,
      );
      expect(rv(side)).toBeCloseTo(input.r_v, 10);
      expect(input.r_v).not.toBeCloseTo(raw(side, 'produced').r_v, 6);
      for (const i of input.selected) expect(screen.getByTestId(`token-${side}-${i}`).className).toContain('counts');
    }
    // The last token owns no row under the input alignment: no R_a for it.
    const last = useLens.getState().runs.trained.panel!.steps.length - 1;
    fireEvent.click(screen.getByTestId(`token-trained-${last}`));
    expect(screen.getByTestId('reward-trained').getAttribute('data-ra')).toBe('');
    fireEvent.click(screen.getByTestId('token-trained-0'));
    expect(ra('trained')).toBeCloseTo(raw('trained', 'input').perToken[0].R_a, 10);
    fireEvent.change(screen.getByTestId('alignment-select'), { target: { value: 'produced' } });
    expect(rv('trained')).toBeCloseTo(raw('trained', 'produced').r_v, 10);
    expect(ra('trained')).toBeCloseTo(raw('trained', 'produced').perToken[0].R_a, 10);
  });

  it('renders model text as text, never HTML', () => {
    const s = useLens.getState();
    const panel = s.runs.base.panel!;
    const hostile = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    act(() =>
      useLens.setState({
        runs: {
          ...s.runs,
          base: {
            ...s.runs.base,
            panel: { ...panel, steps: panel.steps.map((t, i) => (i === 0 ? { ...t, text: hostile } : t)) },
          },
        },
      }),
    );
    renderApp();
    const answer = screen.getByTestId('answer-base');
    expect(answer.querySelector('img, b')).toBeNull();
    expect(answer.textContent).toContain(hostile);
    expect(within(screen.getByTestId('token-base-0')).queryByRole('img')).toBeNull();
    act(() => useLens.setState({ runs: s.runs }));
  });

  // Picking a head on the head matrix (a canvas, which happy-dom cannot draw) is tested in Chromium:
  // src/ui/charts/headMatrix.browser.test.ts and e2e/lens-ui.spec.ts.
  it('the layer and head pickers drive both heatmaps', () => {
    renderApp();
    const layers = useLens.getState().runs.base.panel!.steps[0].layers;
    fireEvent.change(screen.getByTestId('layer-select'), { target: { value: String(layers[0]) } });
    fireEvent.change(screen.getByTestId('head-select'), { target: { value: 'head-1' } });
    expect(useLens.getState().view).toMatchObject({ layer: layers[0], head: { kind: 'head', head: 1 } });
    expect(screen.getByTestId('panel-base').textContent).toContain(`layer ${layers[0]}`);
    fireEvent.change(screen.getByTestId('head-select'), { target: { value: 'mean' } });
    fireEvent.change(screen.getByTestId('layer-select'), { target: { value: '-1' } });
    expect(useLens.getState().view).toMatchObject({ layer: -1, head: { kind: 'mean' } });
    expect(screen.getByTestId('panel-base').textContent).toContain(`layer ${layers.at(-1)}`);
  });

  it('a new image clears the answers made for the previous one', () => {
    const saved = useLens.getState();
    act(() => useLens.getState().setImage({ ...saved.image!, name: 'other.png' }));
    expect(useLens.getState().runs.base.panel).toBeNull();
    expect(useLens.getState().boxes).toEqual([]);
    act(() => useLens.setState({ image: saved.image, runs: saved.runs, cross: saved.cross, boxes: saved.boxes }));
  });

  it('a broken session file shows a message and keeps everything on screen', async () => {
    renderApp();
    const before = useLens.getState();
    const ok = await act(() =>
      importSessionFile(new Blob(['{"format":"sayo-lens-session","version":1,"question":3}'])),
    );
    expect(ok).toBe(false);
    expect(
      screen
        .getAllByTestId('error')
        .map((e) => e.textContent)
        .join(' '),
    ).toMatch(/session file cannot be opened/);
    const after = useLens.getState();
    expect(after.image).toBe(before.image);
    expect(after.runs).toBe(before.runs);
    act(() => useLens.getState().clearError('session'));
  });

  it('session JSON round-trips: export, import, the same answers and reward', async () => {
    const text = serializeSession(buildSession(useLens.getState())!);
    const saved = useLens.getState().runs;
    renderApp();
    const rvBefore = rv('trained');
    act(() => useLens.getState().setBoxes([]));
    expect(screen.getByTestId('reward-trained').getAttribute('data-rv')).toBe('');
    expect(await act(() => importSessionFile(new Blob([text])))).toBe(true);
    expect(rv('trained')).toBeCloseTo(rvBefore, 6);
    const runs = useLens.getState().runs;
    expect(runs.trained.panel!.steps.map((t) => t.text)).toEqual(saved.trained.panel!.steps.map((t) => t.text));
    expect(Array.from(runs.base.panel!.steps[1].attention)).toEqual(Array.from(saved.base.panel!.steps[1].attention));
  });
});
