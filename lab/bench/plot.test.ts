/**
 * @file The scale plot's choice of figures (the newest report per rung, precision and kind of figure) and what its SVG
 * says about them: every precision by its own marker, the runs drawn and superseded named in the caption.
 */
import * as d3 from 'd3';
import { describe, expect, it } from 'vitest';
import { newestBy, pickNewest, plotReports, type NamedReport } from './plot.ts';
import type { LadderEntry } from './ladder.ts';
import type { ScaleReport } from './report.ts';
import type { DecodeResult, Precision } from './scale-node.ts';

type Rung = ScaleReport['rungs'][number];

const entry = (rung: string, params: number): LadderEntry => ({
  rung,
  path: `/ladder/${rung}`,
  noattn: `/ladder/${rung}/noattn`,
  layers: 2,
  heads: 2,
  params,
  decoder_params: params / 2,
  built: true,
});
const decode = (tps: number, prefillMs = 100): DecodeResult => ({
  kind: 'decode',
  imageTokens: 100,
  promptTokens: 128,
  firstTokenColdMs: 1,
  firstTokenWarmMs: 1,
  variants: {
    last: { prefillMs, decodeTps: tps, tokens: 8 },
    noattn: { prefillMs, decodeTps: tps * 1.01, tokens: 8 },
    tjs: { prefillMs, decodeTps: tps * 0.99, tokens: 8 },
  },
  peakRssMb: 100,
});
const rung = (name: string, params: number, dtype: Precision, parts: Partial<Rung>): Rung => ({
  entry: entry(name, params),
  dtype,
  label: dtype === 'fp32' ? name : `${name} ${dtype}`,
  weightBytes: params * 4,
  memory: {},
  browserMemory: {},
  ...parts,
});
const report = (file: string, date: string, rungs: Rung[], more: Partial<ScaleReport> = {}): NamedReport => ({
  file,
  rep: {
    date,
    machine: { cpus: 'Test CPU', cores: 2, memGiB: 24, node: 'v20' },
    loadBefore: [0.5, 0.5, 0.5],
    loadAfter: [1, 1, 1],
    copyGBs: 10,
    tokens: 8,
    rounds: 1,
    threads: 1,
    rungs,
    imageTokens: [],
    lengths: [],
    threadsAB: [],
    ...more,
  },
});
const tpsOf = (r: Rung | undefined) => (r?.node as DecodeResult | undefined)?.variants.last?.decodeTps;

describe('newestBy', () => {
  const a = report('a.json', '2026-12-01T10:00:00Z', [rung('25m', 24e6, 'fp32', { node: decode(1) })]);
  const b = report('b.json', '2026-12-01T12:00:00Z', [rung('25m', 24e6, 'fp32', { node: decode(2) })]);

  it('keeps the item of the newest report, whatever order the reports come in', () => {
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const { newest, older } = newestBy(
        order,
        (rep) => rep.rungs,
        (r) => r.label,
      );
      expect(newest.get('25m')?.from.file).toBe('b.json');
      expect(tpsOf(newest.get('25m')?.value)).toBe(2);
      expect(older.map((o) => o.from.file)).toEqual(['a.json']);
    }
  });

  it('of two reports with one date, takes the later-listed', () => {
    const c = report('c.json', b.rep.date, [rung('25m', 24e6, 'fp32', { node: decode(3) })]);
    expect(
      newestBy(
        [b, c],
        (rep) => rep.rungs,
        (r) => r.label,
      ).newest.get('25m')?.from.file,
    ).toBe('c.json');
    expect(
      newestBy(
        [c, b],
        (rep) => rep.rungs,
        (r) => r.label,
      ).newest.get('25m')?.from.file,
    ).toBe('b.json');
  });
});

describe('pickNewest', () => {
  const nodeOld = report('node-old.json', '2026-12-01T10:00:00Z', [
    rung('mini', 1.4e6, 'fp32', { node: decode(1000) }),
    rung('25m', 24e6, 'fp32', { node: decode(100) }),
  ]);
  const browser = report('browser.json', '2026-12-01T11:00:00Z', [
    rung('25m', 24e6, 'fp32', { browser: { peakRssMb: 1, decodeTps: { last: 90 } } }),
  ]);
  const nodeNew = report('node-new.json', '2026-12-01T12:00:00Z', [rung('25m', 24e6, 'fp32', { node: decode(120) })]);
  const quant = report('quant.json', '2026-12-01T13:00:00Z', [
    rung('500m', 7e8, 'q4', { node: decode(20), browser: { peakRssMb: 1, decodeTps: { last: 0.5 } } }),
    rung('500m', 7e8, 'q8', { node: decode(14) }),
    // a failed job is not a figure: the older run of the rung stays drawn
    rung('mini', 1.4e6, 'fp32', { node: { error: 'out of memory' } }),
  ]);

  it('takes each rung and precision, Node and Chromium apart, from the newest report that measured it', () => {
    const d = pickNewest([quant, nodeNew, browser, nodeOld]);
    expect(d.rungs.map((r) => r.label)).toEqual(['mini', '25m', '500m q8', '500m q4']);
    const r25 = d.rungs.find((r) => r.label === '25m')!;
    expect(r25.node?.from.file).toBe('node-new.json');
    expect(r25.browser?.from.file).toBe('browser.json');
    expect(d.rungs.find((r) => r.label === 'mini')?.node?.from.file).toBe('node-old.json');
    expect(d.used.map((c) => [c.from.file, c.what, c.labels])).toEqual([
      ['quant.json', 'Node', ['500m q4', '500m q8']],
      ['quant.json', 'Chromium', ['500m q4']],
      ['node-new.json', 'Node', ['25m']],
      ['browser.json', 'Chromium', ['25m']],
      ['node-old.json', 'Node', ['mini']],
    ]);
    expect(d.superseded.map((c) => [c.from.file, c.what, c.labels])).toEqual([['node-old.json', 'Node', ['25m']]]);
  });

  it('takes each sweep and thread A/B from the newest report that has it', () => {
    const sweep = (file: string, date: string, tps: number) =>
      report(file, date, [], {
        imageTokens: [{ rung: '100m', tokens: '100', node: decode(tps, 400), memory: {} }],
        lengths: [
          {
            rung: '100m',
            tokens: 512,
            node: {
              kind: 'memory',
              imageTokens: 100,
              promptTokens: 128,
              prefillMs: 400,
              decodeTps: tps,
              rssAt: [
                [1, 790],
                [512, 797],
              ],
              peakRssMb: 800,
            },
          },
        ],
      });
    const ab = (file: string, date: string, prefillMs: number) =>
      report(file, date, [], {
        browserThreadsAB: [
          {
            rung: '100m',
            images: '100',
            result: {
              peakRssMb: 1,
              imageTokens: 100,
              byThreads: { 2: { inUse: 2, prefillMs, decodeTps: 50, rounds: [] } },
            },
          },
        ],
      });
    const d = pickNewest([
      sweep('s2.json', '2026-12-02T00:00:00Z', 2),
      sweep('s1.json', '2026-12-01T00:00:00Z', 1),
      ab('ab1.json', '2026-12-01T00:00:00Z', 900),
      ab('ab2.json', '2026-12-03T00:00:00Z', 800),
    ]);
    expect(d.imageTokens?.from.file).toBe('s2.json');
    expect(d.lengths?.from.file).toBe('s2.json');
    expect(d.browserThreads.map((b) => [b.from.file, b.value.result.byThreads?.['2'].prefillMs])).toEqual([
      ['ab2.json', 800],
    ]);
    expect(d.superseded.map((c) => c.from.file).sort()).toEqual(['ab1.json', 's1.json']);
  });

  it('draws every precision with its own marker and names the runs drawn and superseded', () => {
    const svg = plotReports(pickNewest([quant, nodeNew, browser, nodeOld]));
    expect(svg.startsWith('<svg')).toBe(true);
    // XML knows only its own five entities (a README loads the SVG as an image, parsed as XML)
    expect(svg).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+|#x[\da-f]+);)/i);
    // Data markers (d3 symbols of area 48): fp32 mini × 4 (limit, last, noattn, tjs) and 25m × 5 (with Chromium);
    // q8 × 4; q4 × 5 (with Chromium). A q4 figure is never drawn with the fp32 marker.
    const count = (type: d3.SymbolType) => svg.split(`d="${d3.symbol(type, 48)()}"`).length - 1;
    expect([count(d3.symbolCircle), count(d3.symbolSquare), count(d3.symbolTriangle)]).toEqual([9, 4, 5]);
    expect(svg).toContain('q4 decoder, 4-bit (500m)');
    expect(svg).toContain('q4 in WASM: no 4-bit kernel');
    expect(svg).toContain('node-new.json (2026-12-01 12:00 UTC, load 0.5 → 1.0, copy 10.0 GB/s): Node: 25m');
    expect(svg).toContain(
      'superseded by a newer run of the same rung and precision: node-old.json (2026-12-01 10:00 UTC: Node: 25m)',
    );
    // no sweeps in these reports: the two lower panels say so instead of drawing empty axes
    expect(svg.split('not measured in these reports').length - 1).toBe(2);
  });
});
