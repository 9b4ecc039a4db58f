/**
 * @file Colour scales: one domain shared by both panels in every normalisation mode, exact colours at the ends
 * and clamping, and the diverging scale centred on 0.
 */
import { describe, expect, it } from 'vitest';
import { interpolateInferno, interpolateRdBu, interpolateViridis, rgb } from 'd3';
import {
  colorFor,
  cssColor,
  divergingScale,
  formatValue,
  lutIndex,
  normalizeFor,
  scaleTicks,
  sharedScale,
} from './scale.ts';

const base = new Float32Array([0.1, 0.2, 0.1, 0.0]);
const trained = new Float32Array([0.05, 0.4, 0.05, 0.1]);

function d3rgb(color: string): [number, number, number] {
  const c = rgb(color);
  return [Math.round(c.r), Math.round(c.g), Math.round(c.b)];
}

describe('sharedScale', () => {
  it("'raw' spans [0, max over both panels]", () => {
    const s = sharedScale([base, trained], 'raw');
    expect(s.domain).toEqual([0, Math.fround(0.4)]);
    expect(Array.from(normalizeFor(trained, s))).toEqual(Array.from(trained));
  });

  it("'image' spans [0, max of the image-normalised maps]", () => {
    const s = sharedScale([base, trained], 'image');
    expect(s.domain[1]).toBeCloseTo(0.4 / 0.6, 6);
    const v = normalizeFor(base, s);
    expect(v[1]).toBeCloseTo(0.5, 6);
  });

  it("'shared' divides by the max of both panels: domain [0, 1], the top value of either panel hits 1", () => {
    const s = sharedScale([base, trained], 'shared');
    expect(s.domain).toEqual([0, 1]);
    expect(s.sharedMax).toBe(Math.fround(0.4));
    expect(normalizeFor(trained, s)[1]).toBe(1);
    expect(normalizeFor(base, s)[1]).toBeCloseTo(0.5, 6);
  });

  it('builds each scheme table once; schemes differ', () => {
    const a = sharedScale([base], 'raw', 'viridis');
    expect(sharedScale([trained], 'image', 'viridis').lut).toBe(a.lut);
    expect(sharedScale([base], 'raw', 'inferno').lut).not.toEqual(a.lut);
    expect(colorFor(0, a)).toEqual(d3rgb(interpolateViridis(0)));
  });

  it('all-zero maps get a usable domain', () => {
    expect(sharedScale([new Float32Array(4)], 'raw').domain).toEqual([0, 1]);
  });
});

describe('colorFor', () => {
  const s = sharedScale([base, trained], 'raw');
  it('hits the interpolator ends exactly and clamps outside the domain', () => {
    expect(colorFor(0, s)).toEqual(d3rgb(interpolateInferno(0)));
    expect(colorFor(s.domain[1], s)).toEqual(d3rgb(interpolateInferno(1)));
    expect(colorFor(-5, s)).toEqual(colorFor(0, s));
    expect(colorFor(99, s)).toEqual(colorFor(s.domain[1], s));
    expect(colorFor(Number.NaN, s)).toEqual(colorFor(0, s));
  });

  it('is monotone in lightness for inferno and matches the interpolator mid-way', () => {
    expect(lutIndex(s.domain[1] / 2, s)).toBe(128);
    expect(colorFor(s.domain[1] / 2, s)).toEqual(d3rgb(interpolateInferno(128 / 255)));
    const l = (v: number) => rgb(cssColor(v, s)).r + rgb(cssColor(v, s)).g + rgb(cssColor(v, s)).b;
    for (let v = 0.05; v <= 0.4; v += 0.05) expect(l(v)).toBeGreaterThan(l(v - 0.05));
  });

  it('cssColor is #rrggbb', () => {
    expect(cssColor(0, s)).toMatch(/^#[0-9a-f]{6}$/);
    expect(rgb(cssColor(0.3, s)).formatHex()).toBe(cssColor(0.3, s));
  });
});

describe('divergingScale', () => {
  const d = divergingScale([new Float32Array([-0.2, 0.1]), new Float32Array([0.05])]);
  it('is symmetric around 0 with white-ish at 0, red for positive, blue for negative', () => {
    expect(d.domain).toEqual([-Math.fround(0.2), Math.fround(0.2)]);
    expect(colorFor(0, d)).toEqual(d3rgb(interpolateRdBu(0.5)));
    expect(colorFor(0.2, d)).toEqual(d3rgb(interpolateRdBu(0)));
    expect(colorFor(-0.2, d)).toEqual(d3rgb(interpolateRdBu(1)));
    const [r, , b] = colorFor(0.2, d);
    expect(r).toBeGreaterThan(b);
    const [r2, , b2] = colorFor(-0.2, d);
    expect(b2).toBeGreaterThan(r2);
  });
});

describe('ticks and formatting', () => {
  it('ticks are nice values inside the domain', () => {
    const s = sharedScale([trained], 'raw');
    expect(scaleTicks(s)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
  });
  it('formats small and large values readably', () => {
    expect(formatValue(0)).toBe('0');
    expect(formatValue(0.123456)).toBe('0.123');
    expect(formatValue(0.0004)).toBe('4.0e-4');
    expect(formatValue(-0.25)).toBe('-0.25');
  });
});
