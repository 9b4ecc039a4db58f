// @vitest-environment happy-dom
/**
 * @file SVG charts (legend, sparkline) against committed SVG snapshots built from deterministic inputs, plus their
 * behaviour: ticks, marks, clickable tokens; and the difference map's maths. The head matrix (a canvas) is tested in
 * headMatrix.test.ts (plan, maths) and headMatrix.browser.test.ts (pixels and input in Chromium).
 */
import { describe, expect, it } from 'vitest';
import { renderLegend } from './legend';
import { renderSparkline } from './sparkline';
import { differenceMap } from './diffHeatmap';
import { divergingScale, sharedScale } from './scale';

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

describe('differenceMap', () => {
  it('subtracts element-wise and refuses maps of different grids', () => {
    expect(Array.from(differenceMap(new Float32Array([0.5, 0.25]), new Float32Array([0.25, 0.5])))).toEqual([0.25, -0.25]);
    expect(() => differenceMap(new Float32Array(3), new Float32Array(4))).toThrow(/do not share a grid/);
  });
});
