/**
 * @file View state in the URL: round trips, and bad values falling back to defaults while being reported.
 * (Storage in IndexedDB runs in real Chromium: src/ui/export/browser.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_VIEW, loadSession, readViewSearch, viewFromSearch, viewToSearch } from './persist.ts';
import type { ViewState } from './types.ts';

const viewArb: fc.Arbitrary<ViewState> = fc.record({
  token: fc.oneof(fc.constantFrom<'all' | 'selected'>('all', 'selected'), fc.nat({ max: 5000 })),
  layer: fc.nat({ max: 200 }),
  head: fc.oneof(
    fc.constant({ kind: 'mean' as const }),
    fc.constant({ kind: 'max' as const }),
    fc.nat({ max: 63 }).map((head) => ({ kind: 'head' as const, head })),
  ),
  norm: fc.constantFrom('raw' as const, 'image' as const, 'shared' as const),
  opacity: fc.integer({ min: 0, max: 100 }).map((x) => x / 100),
  colorBy: fc.constantFrom('ra' as const, 'entropy' as const),
});

describe('viewToSearch / viewFromSearch', () => {
  it('round-trips every valid view', () => {
    fc.assert(
      fc.property(viewArb, (v) => {
        expect(viewFromSearch(viewToSearch(v))).toEqual(v);
      }),
    );
  });

  it('writes a short readable query and keeps extra parameters', () => {
    const v: ViewState = {
      token: 3,
      layer: 7,
      head: { kind: 'head', head: 2 },
      norm: 'shared',
      opacity: 0.45,
      colorBy: 'entropy',
    };
    const q = viewToSearch(v, { sample: 'cup-01', token: 'ignored' });
    expect(q).toBe('?token=3&layer=7&head=h2&mode=shared&opacity=0.45&color=entropy&sample=cup-01');
    expect(readViewSearch(q).extra).toEqual({ sample: 'cup-01' });
  });

  it('bad values fall back to the defaults and are reported', () => {
    const defaults: ViewState = { ...DEFAULT_VIEW, layer: 11 };
    const q = '?token=-1&layer=abc&head=h&mode=minmax&opacity=1.5&color=red&x=1';
    expect(viewFromSearch(q, defaults)).toEqual(defaults);
    expect(readViewSearch(q).rejected.map((r) => r.param)).toEqual([
      'token',
      'layer',
      'head',
      'mode',
      'opacity',
      'color',
    ]);
  });

  it('accepts partial queries, "h3" or "3" for a head, and no leading "?"', () => {
    expect(viewFromSearch('layer=5&head=3')).toEqual({ ...DEFAULT_VIEW, layer: 5, head: { kind: 'head', head: 3 } });
    expect(viewFromSearch('')).toEqual(DEFAULT_VIEW);
    expect(viewFromSearch('?token=selected&opacity=0')).toMatchObject({ token: 'selected', opacity: 0 });
  });

  it('rejects huge, fractional, exponent and empty numbers', () => {
    for (const bad of ['99999999', '1.5', '1e3', '', ' 2', '0x10']) {
      expect(readViewSearch(`token=${encodeURIComponent(bad)}`).values.token).toBeUndefined();
    }
    expect(readViewSearch('opacity=').values.opacity).toBeUndefined();
  });
});

describe('loadSession without IndexedDB', () => {
  it('says that the browser has no IndexedDB', async () => {
    await expect(loadSession()).rejects.toThrow(/no IndexedDB/);
  });
});
