// @vitest-environment happy-dom
/**
 * @file SVG charts (legend, sparkline) against committed SVG snapshots built from deterministic inputs, plus their
 * behaviour: ticks, marks, clickable tokens; and the difference map's maths. The head matrix (a canvas) is tested in
 * headMatrix.test.ts (plan, maths) and headMatrix.browser.test.ts (pixels and input in Chromium).
 */
import { describe, expect, it } from 'vitest';
import { renderLegend } from './legend.ts';
import { renderSparkline } from './sparkline.ts';
import { differenceMap } from './diffHeatmap.ts';
import { divergingScale, sharedScale } from './scale.ts';

const pretty = (el: Element) => el.outerHTML.replace(/></g, '>\n<');

describe('renderLegend', () => {
  it('draws a gradient from the scale LUT and nice ticks (snapshot)', async () => {
    const scale = sharedScale([new Float32Array([0, 0.03, 0.42])], 'raw');
    const svg = renderLegend(scale, { width: 200 });
    expect([...svg.querySelectorAll('.tick text')].map((t) => t.textContent)).toEqual([
      '0',
      '0.1',
      '0.2',
      '0.3',
      '0.4',
    ]);
    expect(svg.querySelectorAll('stop')).toHaveLength(17);
    expect(svg.querySelector('stop')!.getAttribute('stop-color')).toBe(
      `rgb(${scale.lut[0]},${scale.lut[1]},${scale.lut[2]})`,
    );
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

describe('renderLegend in place', () => {
  it('updates its own svg to exactly what a fresh render draws (new domain, caption, colours), another shape is new', () => {
    const first = renderLegend(divergingScale([new Float32Array([-0.2, 0.2])]), { width: 220, title: 'ΔR_a' });
    // Ticks that move, ticks that stay (0 keeps its place on a symmetric domain), more and fewer ticks.
    for (const m of [0.05, 0.031, 0.5, 0.0042, 0.2]) {
      const scale = divergingScale([new Float32Array([-m, m])]);
      const updated = renderLegend(scale, { width: 220, title: `ΔR_a ±${m}` }, first);
      expect(updated).toBe(first);
      expect(updated.outerHTML).toBe(renderLegend(scale, { width: 220, title: `ΔR_a ±${m}` }).outerHTML);
    }
    const other = sharedScale([new Float32Array([0, 0.42])], 'raw');
    expect(renderLegend(other, { width: 220 }, first)).not.toBe(first);
    expect(renderLegend(divergingScale([new Float32Array([-1, 1])]), { width: 200 }, first)).not.toBe(first);
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

  it('updates its own svg in place to exactly what a fresh render draws, with the new click handler', () => {
    const picks: string[] = [];
    const opts = (tag: string, domain: [number, number]) => ({
      width: 200,
      height: 48,
      axis: 30,
      domain,
      onPick: (i: number) => picks.push(`${tag}${i}`),
    });
    const first = renderSparkline({ values, selected: [1, 2] }, opts('a', [0.3, 0.7]));
    const next = [0.45, 0.7, 0.6, 0.52, 0.33, 0.58];
    // Fewer and more dots, a new domain (axis labels and the reference move), new tooltips.
    for (const selected of [[0, 3, 4], [5]]) {
      const updated = renderSparkline({ values: next, selected }, opts('b', [0.2, 0.8]), first);
      expect(updated).toBe(first);
      expect(updated.outerHTML).toBe(renderSparkline({ values: next, selected }, opts('c', [0.2, 0.8])).outerHTML);
    }
    (first.querySelectorAll('.hit rect')[4] as SVGRectElement).dispatchEvent(
      new MouseEvent('click', { bubbles: true }),
    );
    expect(picks).toEqual(['b4']);
    // Another shape (token count, picked mark, axis) is a new svg.
    expect(renderSparkline({ values: next.slice(1) }, opts('b', [0, 1]), first)).not.toBe(first);
    expect(renderSparkline({ values: next, picked: 2 }, opts('b', [0, 1]), first)).not.toBe(first);
    expect(renderSparkline({ values: next }, { ...opts('b', [0, 1]), axis: 0 }, first)).not.toBe(first);
  });

  it('moves the picked mark in place', () => {
    const svg = renderSparkline({ values, picked: 1 }, { width: 120, height: 40 });
    expect(renderSparkline({ values, picked: 3 }, { width: 120, height: 40 }, svg).outerHTML).toBe(
      renderSparkline({ values, picked: 3 }, { width: 120, height: 40 }).outerHTML,
    );
  });

  it('renders an empty answer without throwing', () => {
    expect(renderSparkline({ values: [] }).querySelector('.line')!.getAttribute('d')).toBe('');
  });
});

describe('differenceMap', () => {
  it('subtracts element-wise and refuses maps of different grids', () => {
    expect(Array.from(differenceMap(new Float32Array([0.5, 0.25]), new Float32Array([0.25, 0.5])))).toEqual([
      0.25, -0.25,
    ]);
    expect(() => differenceMap(new Float32Array(3), new Float32Array(4))).toThrow(/do not share a grid/);
  });
});
