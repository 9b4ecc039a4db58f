/**
 * @file Smoke of the scale benchmark: the ladder's two smallest rungs (shipped mini, 25m built on demand and cached)
 * through one short Node decode job and one memory job each, in processes of their own, as `npm run bench -- --scale`
 * runs them. Checks the figures are there and consistent, not how fast anything is. Also the report printer on a
 * saved report from before the Chromium transformers.js variants, and on one with them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { scaleCommand } from './cli.ts';
import { ensureLadder, quantizedUnits, variantsOf, weightBytesPerToken, type LadderEntry } from './ladder.ts';
import { printBrowserSweeps, printReport, printWebGpu } from './print.ts';
import type { ScaleReport } from './report.ts';
import { nodeJob, webgpuRungs } from './run.ts';
import type { DecodeResult, MemoryResult } from './scale-node.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const IMAGE = path.join(ROOT, 'public/samples/sample-01.png');
const QUESTION = 'What shape is the blue object?';

/** What a printer writes to the console, as one string. */
function printed(print: () => void): string {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    print();
    return log.mock.calls.map((c) => c.join(' ')).join('\n');
  } finally {
    log.mockRestore();
  }
}

describe('scale benchmark smoke (mini, 25m)', () => {
  let ladder: LadderEntry[] = [];

  it('builds or reuses the two smallest rungs with one command', () => {
    ladder = ensureLadder(['mini', '25m']);
    // a full rung runs every variant; a light one (2b: one captured layer, no noattn view, whole q4 set) the rest
    expect(variantsOf(ladder[1])).toContain('noattn');
    expect(quantizedUnits(ladder[1])).toEqual(['q4', 'q8']);
    const light = { ...ladder[1], noattn: null, light: 'built light' };
    expect(variantsOf(light)).toEqual(['last', 'none', 'tjs', 'tjs-attn']);
    expect(quantizedUnits(light)).toEqual(['q4-all']);
    expect(ladder.map((e) => e.rung)).toEqual(['mini', '25m']);
    expect(ladder[1].params).toBeGreaterThan(10 * ladder[0].params);
    expect(weightBytesPerToken(ladder[1])).toBeGreaterThan(4 * ladder[1].decoder_params * 0.5);
  }, 600_000);

  it.each([0, 1])(
    'rung %i: a short decode job gives every variant, bytes per token by captured layers',
    async (i) => {
      const e = ladder[i];
      const r = await nodeJob<DecodeResult>({
        kind: 'decode',
        model: e.path,
        noattn: e.noattn!,
        image: IMAGE,
        question: QUESTION,
        tokens: 4,
        rounds: 1,
        threads: 1,
        variants: ['all', 'last', 'none', 'noattn', 'tjs', 'tjs-attn'],
      });
      if ('error' in r) throw new Error(r.error);
      expect(r.imageTokens).toBeGreaterThan(0);
      for (const v of ['all', 'last', 'none', 'noattn', 'tjs', 'tjs-attn'] as const) {
        expect(r.variants[v]?.tokens).toBe(4);
        expect(r.variants[v]?.decodeTps).toBeGreaterThan(0);
        expect(r.variants[v]?.prefillMs).toBeGreaterThan(0);
      }
      // one layer: heads × image tokens floats of attention, plus per-head share and row sum
      const last = r.variants.last!.bytesPerToken!;
      expect(last).toBeGreaterThanOrEqual(4 * e.heads * (r.imageTokens + 2));
      expect(last).toBeLessThan(4 * e.heads * (r.imageTokens + 2) + 200);
      expect(r.variants.all!.bytesPerToken!).toBeGreaterThan((e.layers - 0.5) * (last - 200));
      expect(r.variants.none!.bytesPerToken!).toBeLessThan(200);
      expect(r.peakRssMb).toBeGreaterThan(50);
    },
    600_000,
  );

  it('a memory job samples RSS from the first token', async () => {
    const e = ladder[1];
    const r = await nodeJob<MemoryResult>({
      kind: 'memory',
      model: e.path,
      image: IMAGE,
      question: QUESTION,
      tokens: 3,
      threads: 1,
      capture: 'last',
    });
    if ('error' in r) throw new Error(r.error);
    expect(r.rssAt[0][0]).toBe(1);
    expect(r.peakRssMb).toBeGreaterThanOrEqual(r.rssAt[0][1] - 1);
  }, 600_000);
});

describe('scale report printer: Chromium table with and without transformers.js generate()', () => {
  // A report saved before the Chromium tjs variants existed (decode records of all / last / none only).
  const saved = (): ScaleReport =>
    JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/bench/scale-latest-browser.json'), 'utf8'));
  const chromiumTable = (rep: ScaleReport) => {
    const lines = printed(() => printReport(rep)).split('\n');
    const at = lines.findIndex((l) => l.trimStart().startsWith('Chromium (WASM'));
    expect(at).toBeGreaterThanOrEqual(0);
    return { header: lines[at + 1], rows: lines.slice(at + 2), all: lines };
  };

  it('prints a saved report without tjs figures, the tjs columns as not run', () => {
    const { header, rows } = chromiumTable(saved());
    const cols = header.split(' | ');
    expect(cols).toContain('tjs generate() / +attn');
    expect(cols).toContain('ours ÷ tjs with attentions');
    const mini = rows.find((l) => l.startsWith('mini |'))!.split(' | ');
    expect(mini).toHaveLength(cols.length);
    expect(mini[cols.indexOf('tjs generate() / +attn')]).toBe('-');
    expect(mini[cols.indexOf('ours ÷ tjs with attentions')]).toBe('-');
    expect(mini[cols.indexOf('tok/s all')]).toBe('516.0');
    expect(rows.some((l) => l.includes('transformers.js'))).toBe(false);
  });

  it('prints tjs decode tok/s, ours (all layers) ÷ tjs with attentions, threads and prefill', () => {
    const rep = saved();
    const b = rep.rungs[0].browser!;
    // Figures of this test only (the printer's arithmetic), not measurements.
    b.decodeTps = { all: 300, last: 320, none: 330, tjs: 250, 'tjs-attn': 200 };
    b.prefillMs = { all: 90, last: 80, none: 85, tjs: 70, 'tjs-attn': 75 };
    Object.assign(b, { threads: 2, tjsThreads: 2, roundsTps: { all: [300, 280], 'tjs-attn': [200, 280] } });
    Object.assign(rep.rungs[1].browser!, { tjsError: 'transformers.js generate(): out of memory' });
    const { header, rows, all } = chromiumTable(rep);
    const cols = header.split(' | ');
    const mini = rows.find((l) => l.startsWith('mini |'))!.split(' | ');
    expect(mini[cols.indexOf('tjs generate() / +attn')]).toBe('250.0 / 200.0');
    expect(mini[cols.indexOf('ours ÷ tjs with attentions')]).toBe('1.50×');
    expect(rows).toContain(
      '  mini: WASM threads both 2; prefill ms ours last 80, tjs 70, tjs+attn 75; ours ÷ tjs with attentions per round: 1.50, 1.00',
    );
    expect(rows).toContain('  25m Chromium: transformers.js generate(): out of memory');
    expect(rows.find((l) => l.startsWith('25m |'))!.split(' | ')[cols.indexOf('tjs generate() / +attn')]).toBe('-');
    expect(all.some((l) => l.includes('tjs = transformers.js generate() in a worker of its own'))).toBe(true);
  });
});

describe('scale report printers', () => {
  const entry = (rung: string, params: number): LadderEntry => ({
    rung,
    path: `/x/${rung}`,
    noattn: `/x/${rung}/noattn`,
    layers: 8,
    heads: 6,
    params,
    decoder_params: params / 2,
    built: true,
  });
  const report = (extra: Partial<ScaleReport>): ScaleReport => ({
    date: '2026-12-02T00:00:00.000Z',
    machine: { cpus: 'cpu', cores: 2, memGiB: 24, node: 'v20' },
    loadBefore: [1, 1, 1],
    loadAfter: [1, 1, 1],
    copyGBs: 10,
    tokens: 32,
    rounds: 2,
    threads: 1,
    rungs: [],
    imageTokens: [],
    lengths: [],
    threadsAB: [],
    ...extra,
  });
  const load = { before: [1.5, 1, 1], after: [2, 1, 1] };

  it('prints every saved scale report in docs/bench (also those from before the WebGPU rows and Chromium sweeps)', () => {
    const dir = path.join(ROOT, 'docs/bench');
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('scale') && f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const rep: ScaleReport = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      const out = printed(() => printReport(rep));
      expect(out, file).toContain('SAYO Lens scale benchmark of');
      // The WebGPU table is printed exactly when the report has WebGPU rows.
      expect(out.includes('Chromium WebGPU'), file).toBe((rep.browserWebGpu?.length ?? 0) > 0);
    }
  });

  it("WebGPU rows: the adapter, WebGPU ÷ WASM against the rung's Chromium WASM row, and why a row has no figures", () => {
    const rep = report({
      rungs: [
        {
          entry: entry('25m', 24e6),
          dtype: 'fp32',
          label: '25m',
          weightBytes: 1,
          memory: {},
          browserMemory: {},
          browser: { peakRssMb: 900, decodeTps: { all: 40, last: 50, none: 60 } },
        },
      ],
      browserWebGpu: [
        {
          rung: '25m',
          label: '25m',
          tokens: 8,
          result: {
            peakRssMb: 1200,
            prefillMs: { last: 900 },
            decodeTps: { all: 4, last: 5, none: 12 },
            firstTokenColdMs: 3000,
            firstTokenWarmMs: 1000,
            load,
            adapter: { available: true, vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true },
          },
        },
        {
          rung: 'mini',
          label: 'mini',
          tokens: 8,
          result: {
            peakRssMb: NaN,
            error: 'no WebGPU adapter: navigator.gpu.requestAdapter() returned no adapter',
            adapter: { available: false },
            load,
          },
        },
        { rung: '2b', label: '2b', tokens: 8, result: { peakRssMb: NaN, error: 'not a rung of this run (--rungs)' } },
      ],
    });
    const out = printed(() => printWebGpu(rep)).split('\n');
    expect(out[1]).toContain('8 forced new tokens, WASM rows 32');
    expect(out[3]).toBe(
      '25m | google/swiftshader, fallback adapter | 900 | 4.0 | 5.0 | 12.0 | 0.10 / 0.20 | 3000 | 1000 | 1200 | 1.50 1.00 1.00 → 2.00 1.00 1.00',
    );
    expect(out[4]).toBe(
      'mini | none | error: no WebGPU adapter: navigator.gpu.requestAdapter() returned no adapter | 1.50 1.00 1.00 → 2.00 1.00 1.00',
    );
    expect(out[5]).toBe('2b | n/a | error: not a rung of this run (--rungs) | n/a');
    expect(printed(() => printWebGpu(report({})))).toBe('');
  });

  it('Chromium sweeps: image tokens with tree peak last ÷ without, generated length with RSS at the steps seen', () => {
    const rep = report({
      browserImageTokens: [
        {
          rung: '100m',
          tokens: '100',
          result: {
            peakRssMb: 1000,
            imageTokens: 100,
            promptTokens: 128,
            prefillMs: { last: 400, none: 390 },
            decodeTps: { last: 30, none: 33 },
            load,
          },
          memory: { last: { peakRssMb: 1100 }, none: { peakRssMb: 1000 } },
        },
        {
          rung: '100m',
          tokens: '400',
          result: {
            peakRssMb: 1000,
            imageTokens: 100,
            promptTokens: 128,
            prefillMs: { last: 400 },
            decodeTps: { last: 30, none: 33 },
          },
          memory: {},
        },
        {
          rung: '100m',
          tokens: '1300',
          result: { peakRssMb: 3000, error: 'oom: out of memory', load },
          memory: { last: { peakRssMb: 2000, error: 'oom: out of memory' } },
        },
      ],
      browserLengths: [
        {
          rung: '100m',
          tokens: 512,
          result: {
            peakRssMb: 1300,
            largestProcessMb: 800,
            prefillMs: { last: 410 },
            decodeTps: { last: 28.44 },
            rssAt: [
              [1, 1200.4, 700],
              [129, 1210, 705],
              [512, 1215.6, 710],
            ],
            load,
          },
        },
      ],
    });
    const out = printed(() => printBrowserSweeps(rep)).split('\n');
    expect(out[1]).toContain('Image tokens at 100m (Chromium WASM');
    expect(out[3]).toBe('100 | 128 | 400 | 30.0 | 33.0 | 1100 / 1000 | 1.10× | 1.50 1.00 1.00 → 2.00 1.00 1.00');
    expect(out[4]).toBe(
      '100 (image for ~400, capped by the processor) | 128 | 400 | 30.0 | 33.0 | n/a / n/a | n/a× | n/a',
    );
    expect(out[5]).toBe('~1300 | error: oom: out of memory | 1.50 1.00 1.00 → 2.00 1.00 1.00');
    expect(out[6]).toBe('  ~1300 image tokens, Chromium memory last: oom: out of memory');
    expect(out[8]).toContain('Generated length at 100m (Chromium WASM, capture last layer');
    expect(out[10]).toBe(
      '512 | 410 | 28.4 | 1300 | 800 | 1:1200/700 129:1210/705 512:1216/710 | 1.50 1.00 1.00 → 2.00 1.00 1.00',
    );
    expect(printed(() => printBrowserSweeps(report({})))).toBe('');
  });

  it('WebGPU rungs: none unless --webgpu names them', () => {
    const asked = (args: string[]) => webgpuRungs(scaleCommand().parse(args, { from: 'user' }).opts().webgpu);
    expect(asked(['--rungs', 'mini,25m'])).toEqual([]);
    expect(asked(['--webgpu', 'mini,25m'])).toEqual(['mini', '25m']);
    expect(asked(['--webgpu', 'none'])).toEqual([]);
  });
});
