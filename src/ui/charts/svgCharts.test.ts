// @vitest-environment happy-dom
/**
 * @file SVG charts (legend, sparkline, head matrix) against committed SVG snapshots built from deterministic
 * inputs, plus their behaviour: ticks, marks, clickable / keyboard-operable head cells, and the head-matrix maths.
 */
import { describe, expect, it } from 'vitest';
import { interpolateRdBu, rgb } from 'd3';
import { renderLegend } from './legend';
import { renderSparkline } from './sparkline';
import { HEAD_MATRIX_DEFAULTS, headMatrixDiff, headMatrixRa, renderHeadMatrix } from './headMatrix';
import { differenceMap } from './diffHeatmap';
import { divergingScale, sharedScale } from './scale';
import { makeSession } from '../../session/fixture';
import { scoreRa } from '../../core/reward';
import { panelCache } from '../../state/derive';
import type { StepRecord } from '../../engine/types';

/** The head matrix of a panel's steps through the panel's cache, as HeadMatrixView reads it. */
const matrix = (steps: StepRecord[], targets: Int32Array, tokens: number[], alignment?: 'produced' | 'input') =>
  headMatrixRa(panelCache(steps)!, steps[0].layers, targets, tokens, alignment);

const pretty = (el: Element) => el.outerHTML.replace(/></g, '>\n<');

describe('renderLegend', () => {
  it('draws a gradient from the scale LUT and nice ticks (snapshot)', async () => {
    const scale = sharedScale([new Float32Array([0, 0.03, 0.42])], 'raw');
    const svg = renderLegend(scale, { width: 200 });
    expect([...svg.querySelectorAll('.tick text')].map((t) => t.textContent)).toEqual(['0', '0.1', '0.2', '0.3', '0.4']);
    expect(svg.querySelectorAll('stop')).toHaveLength(17);
    expect(svg.querySelector('stop')!.getAttribute('stop-color')).toBe(`rgb(${scale.lut[0]},${scale.lut[1]},${scale.lut[2]})`);
    expect(svg.getAttribute('aria-label')).toBe('attention (probability): from 0 to 0.42');
    await expect(pretty(svg)).toMatchFileSnapshot('./__snapshots__/legend.svg');
  });

  it('diverging legend spans ±m with 0 in the middle', () => {
    const svg = renderLegend(divergingScale([new Float32Array([-0.2, 0.2])]), { width: 200 });
    const labels = [...svg.querySelectorAll('.tick text')].map((t) => t.textContent);
    expect(labels).toContain('0');
    expect(labels[0]).toBe('-0.2');
    expect(svg.querySelector('linearGradient')!.id).toBe('sayo-legend-RdBu');
  });
});

describe('renderSparkline', () => {
  const values = [0.5, 0.62, 0.71, 0.4, Number.NaN, 0.55];
  it('marks selected tokens and the picked token (snapshot)', async () => {
    const svg = renderSparkline({ values, selected: [1, 2, 4], picked: 3 }, { width: 120, height: 40 });
    // NaN (token 4) leaves a gap and gets no dot
    expect(svg.querySelectorAll('.selected circle')).toHaveLength(2);
    expect(svg.querySelector('.line')!.getAttribute('d')).toMatch(/^M.*L.*M/);
    expect(svg.querySelector('.picked')!.getAttribute('x1')).toBe('71.2');
    expect(svg.querySelector('.reference')!.getAttribute('y1')).toBe('20');
    await expect(pretty(svg)).toMatchFileSnapshot('./__snapshots__/sparkline.svg');
  });

  it('calls onPick with the clicked token', () => {
    const picks: number[] = [];
    const svg = renderSparkline({ values }, { onPick: (i) => picks.push(i) });
    (svg.querySelectorAll('.hit rect')[2] as SVGRectElement).dispatchEvent(new MouseEvent('click', { bubbles: true }));
    expect(picks).toEqual([2]);
  });

  it('renders an empty answer without throwing', () => {
    expect(renderSparkline({ values: [] }).querySelector('.line')!.getAttribute('d')).toBe('');
  });
});

describe('headMatrixRa', () => {
  it("equals scoreRa of each head's own a / v for one token", () => {
    const s = makeSession({ layers: [0, 1], heads: 2, rows: 3, cols: 4 });
    const steps = s.panels[0].steps;
    const targets = new Int32Array([0, 5]);
    const m = matrix(steps, targets, [1]);
    expect([m.layers, m.heads]).toEqual([[0, 1], 2]);
    const att = steps[1].attention;
    for (let i = 0; i < 4; i++) {
      const row = att.subarray(i * 12, (i + 1) * 12);
      const a = (row[0] + row[5]) / 2;
      const v = row.reduce((x, y) => x + y, 0) / 12;
      expect(m.values[i]).toBeCloseTo(scoreRa(a, v), 6);
    }
    // Under the input alignment token 0 owns row 1.
    expect(Array.from(matrix(steps, targets, [0], 'input').values)).toEqual(Array.from(m.values));
  });

  it('averages a and v over several tokens before scoring', () => {
    const steps = makeSession().panels[1].steps;
    const targets = new Int32Array([3]);
    const one = [0, 1, 2].map((t) => matrix(steps, targets, [t]));
    const all = matrix(steps, targets, [0, 1, 2]);
    expect(all.values[0]).not.toBeCloseTo(one.reduce((s, m) => s + m.values[0], 0) / 3, 9);
    expect(all.values[0]).toBeGreaterThan(Math.min(...one.map((m) => m.values[0])));
    expect(all.values[0]).toBeLessThan(Math.max(...one.map((m) => m.values[0])));
  });

  it('explains missing tokens and mismatched layers', () => {
    const steps = makeSession().panels[0].steps;
    expect(() => matrix(steps, new Int32Array([0]), [])).toThrow(/no token/);
    expect(() => matrix(steps, new Int32Array([0]), [9])).toThrow(/token 9 does not exist/);
    expect(() => headMatrixRa(panelCache(steps)!, [0, 1, 2], new Int32Array([0]), [0])).toThrow(/3 layer ids for a capture of 2 layers/);
    expect(panelCache(steps.map((s) => ({ ...s, attention: new Float32Array(0) })))).toBeNull();
  });
});

describe('renderHeadMatrix', () => {
  const data = { values: new Float32Array([0.2, 0.5, 0.9, 0.4, 0.6, 0.7]), layers: [4, 7], heads: 3 };
  const scale = sharedScale([new Float32Array([1])], 'raw', 'viridis');

  it('draws layers × heads cells with labels and the picked head outlined (snapshot)', async () => {
    const svg = renderHeadMatrix(data, { scale, picked: { layer: 7, head: 1 } });
    expect(svg.querySelectorAll('.cells rect')).toHaveLength(6);
    expect([...svg.querySelectorAll('.row-labels text')].map((t) => t.textContent)).toEqual(['L4', 'L7']);
    const picked = svg.querySelector('rect[stroke]')!;
    expect([picked.getAttribute('data-layer'), picked.getAttribute('data-head')]).toEqual(['7', '1']);
    await expect(pretty(svg)).toMatchFileSnapshot('./__snapshots__/headMatrix.svg');
  });

  it('cells are buttons: click, Enter and Space pick; arrow keys move focus', () => {
    const picks: [number, number][] = [];
    const svg = renderHeadMatrix(data, { scale, onPick: (l, h) => picks.push([l, h]) });
    document.body.append(svg);
    const cells = [...svg.querySelectorAll<SVGRectElement>('.cells rect')];
    expect(cells.every((c) => c.getAttribute('role') === 'button' && c.getAttribute('tabindex') === '0')).toBe(true);
    cells[4].dispatchEvent(new MouseEvent('click', { bubbles: true }));
    cells[0].dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    cells[2].dispatchEvent(new KeyboardEvent('keydown', { key: ' ', bubbles: true }));
    expect(picks).toEqual([[7, 1], [4, 0], [4, 2]]);
    cells[0].focus();
    cells[0].dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }));
    expect(document.activeElement).toBe(cells[3]);
    cells[3].dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    expect(document.activeElement).toBe(cells[4]);
    svg.remove();
  });

  it('updates its own svg in place for the same shape: colours, outline, names and the pick handler', () => {
    const first: [number, number][] = [];
    const second: [number, number][] = [];
    const svg = renderHeadMatrix(data, { scale, picked: { layer: 4, head: 0 }, onPick: (l, h) => first.push([l, h]) });
    const cells = [...svg.querySelectorAll<SVGRectElement>('.cells rect')];
    const values = new Float32Array([0.9, 0.5, 0.2, 0.4, 0.6, 0.1]);
    const again = renderHeadMatrix({ ...data, values }, { scale, picked: { layer: 7, head: 2 }, onPick: (l, h) => second.push([l, h]) }, svg);
    expect(again).toBe(svg);
    expect([...svg.querySelectorAll('.cells rect')]).toEqual(cells);
    const fresh = renderHeadMatrix({ ...data, values }, { scale, picked: { layer: 7, head: 2 }, onPick: () => {} });
    expect(cells.map((c) => c.getAttribute('fill'))).toEqual([...fresh.querySelectorAll('.cells rect')].map((c) => c.getAttribute('fill')));
    expect(cells[0].hasAttribute('stroke')).toBe(false);
    expect(cells[5].getAttribute('stroke')).toBe(HEAD_MATRIX_DEFAULTS.pickedStroke);
    expect(cells[0].getAttribute('aria-label')).toBe('layer 4, head 0: 0.9');
    expect(cells[0].querySelector('title')!.textContent).toBe('layer 4, head 0: 0.9');
    cells[1].dispatchEvent(new MouseEvent('click', { bubbles: true }));
    expect([first, second]).toEqual([[], [[4, 1]]]);
    // Another shape (or no pick handler) draws a new svg.
    expect(renderHeadMatrix({ values: values.subarray(0, 3), layers: [4], heads: 3 }, { scale }, svg)).not.toBe(svg);
    expect(renderHeadMatrix({ ...data, values }, { scale }, svg)).not.toBe(svg);
  });

  it('difference matrix on a diverging scale; shape mismatches are explained', () => {
    const base = { ...data, values: new Float32Array(6).fill(0.5) };
    const diff = headMatrixDiff(data, base);
    expect(Array.from(diff.values).map((v) => Number(v.toFixed(6)))).toEqual([-0.3, 0, 0.4, -0.1, 0.1, 0.2]);
    const svg = renderHeadMatrix(diff, { scale: divergingScale([diff.values as Float32Array]) });
    expect(svg.querySelectorAll('.cells rect')[1].getAttribute('fill')).toBe(rgb(interpolateRdBu(0.5)).formatHex());
    expect(() => headMatrixDiff(data, { ...base, heads: 2 })).toThrow(/differ in shape/);
    expect(() => renderHeadMatrix({ ...data, heads: 4 }, { scale })).toThrow(/6 values, expected 2 layers × 4 heads/);
  });
});

describe('differenceMap', () => {
  it('subtracts element-wise and refuses maps of different grids', () => {
    expect(Array.from(differenceMap(new Float32Array([0.5, 0.25]), new Float32Array([0.25, 0.5])))).toEqual([0.25, -0.25]);
    expect(() => differenceMap(new Float32Array(3), new Float32Array(4))).toThrow(/do not share a grid/);
  });
});
