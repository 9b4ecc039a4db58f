/**
 * @file Draws the scale benchmark's saved reports (the JSON of `npm run bench -- --scale --json FILE`) as one SVG with
 * d3: decode tokens/s against parameters at every rung and precision measured (ours with the last layer captured, the
 * same weights without attention outputs, transformers.js generate(), Chromium WASM on 1 and 2 threads, the bandwidth
 * limit; marker shape = decoder precision), prefill against image tokens (the mid rung's sweep and Chromium thread
 * A/B, and any rung measured at more image tokens, e.g. 2b), and RSS against generated tokens. Several reports are
 * merged: per rung and precision, and per kind of figure (Node, Chromium, more image tokens, each sweep, each thread
 * A/B), the most recent report that measured it wins (report timestamps); the caption names the runs drawn and those
 * superseded.
 *
 * Usage: npm run bench -- --plot <report.json>… <out.svg> [--png out.png]   (--png also renders the SVG in headless
 * Chromium, to look at it)
 */
import path from 'node:path';
import * as d3 from 'd3';
import { Window } from 'happy-dom';
import type { LadderEntry } from './ladder.ts';
import type { ScaleReport } from './report.ts';
import type { DecodeResult, MemoryResult, Precision, Variant } from './scale-node.ts';

/** A saved report and the file it was read from (named in the caption). */
export interface NamedReport {
  file: string;
  rep: ScaleReport;
}
/** A figure and the report it is drawn from. */
export interface Drawn<T> {
  value: T;
  from: NamedReport;
}
type Rung = ScaleReport['rungs'][number];
type BrowserThreadsAB = NonNullable<ScaleReport['browserThreadsAB']>[number];

/** One rung in one precision: each part from the newest report that measured it. */
export interface PlotRung {
  label: string;
  entry: LadderEntry;
  dtype: Precision;
  node?: Drawn<Rung>;
  browser?: Drawn<Rung>;
  atImages?: Drawn<Rung>;
}

/** What one report gives the plot: a kind of figure (e.g. "Node") for some rungs (e.g. "25m", "500m q8"). */
export interface Contribution {
  from: NamedReport;
  what: string;
  labels: string[];
}

/** The figures the plot draws, each from the newest report that measured it, and what each report gave or lost. */
export interface PlotData {
  /** By parameters, then precision (fp32, q8, q4, q4-all). */
  rungs: PlotRung[];
  imageTokens?: Drawn<ScaleReport['imageTokens']>;
  lengths?: Drawn<ScaleReport['lengths']>;
  browserThreads: Array<Drawn<BrowserThreadsAB>>;
  /** Reports drawn, newest first. */
  used: Contribution[];
  /** Figures a newer report of the same rung and precision replaced. */
  superseded: Contribution[];
}

const isErr = (x: unknown): x is { error: string } =>
  typeof x === 'object' && x !== null && 'error' in x && typeof (x as { error: unknown }).error === 'string';
/** A field a run measured: present, not a failed job, not an empty record (e.g. a Chromium-only run's `memory: {}`). */
const measured = (v: unknown) =>
  v !== undefined &&
  v !== null &&
  !isErr(v) &&
  !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
const PRECISION_ORDER: Precision[] = ['fp32', 'q8', 'q4', 'q4-all'];

/**
 * The newest item per key across reports, by the report's `date` (of two equal dates the later-listed report wins),
 * and every older item of a key that the newest replaced.
 */
export function newestBy<T>(
  reps: NamedReport[],
  items: (rep: ScaleReport) => T[],
  key: (item: T) => string,
): { newest: Map<string, Drawn<T>>; older: Array<Drawn<T>> } {
  const byDate = reps
    .map((r, i) => ({ r, i }))
    .sort((a, b) => Date.parse(a.r.rep.date) - Date.parse(b.r.rep.date) || a.i - b.i);
  const newest = new Map<string, Drawn<T>>();
  const older: Array<Drawn<T>> = [];
  for (const { r } of byDate) {
    for (const value of items(r.rep)) {
      const k = key(value);
      const had = newest.get(k);
      if (had) older.push(had);
      newest.set(k, { value, from: r });
    }
  }
  return { newest, older };
}

/** The fields of a rung one run can measure on its own (a Node-only, a Chromium-only run), as the caption names them. */
const RUNG_PARTS = {
  node: 'Node',
  browser: 'Chromium',
  atImages: 'Node prefill at more image tokens',
} as const satisfies Partial<Record<keyof Rung, string>>;

/** Picks, from several reports, the figures the plot draws: the newest of each (see {@link newestBy}). */
export function pickNewest(reps: NamedReport[]): PlotData {
  const used: Contribution[] = [];
  const superseded: Contribution[] = [];
  const note = (list: Contribution[], from: NamedReport, what: string, label: string) => {
    const c = list.find((x) => x.from === from && x.what === what) ?? list[list.push({ from, what, labels: [] }) - 1];
    if (!c.labels.includes(label)) c.labels.push(label);
  };
  const rungs = new Map<string, PlotRung>();
  for (const [part, what] of Object.entries(RUNG_PARTS) as Array<[keyof typeof RUNG_PARTS, string]>) {
    const { newest, older } = newestBy(
      reps,
      (rep) => rep.rungs.filter((r) => measured(r[part])),
      (r) => r.label,
    );
    for (const [label, d] of newest) {
      const r = rungs.get(label) ?? rungs.set(label, { label, entry: d.value.entry, dtype: d.value.dtype }).get(label)!;
      r[part] = d;
      note(used, d.from, what, label);
    }
    for (const d of older) note(superseded, d.from, what, d.value.label);
  }
  const sweep = <T extends { rung: string }>(name: string, items: (rep: ScaleReport) => T[]) => {
    const { newest, older } = newestBy(
      reps,
      (rep) => (items(rep).length ? [items(rep)] : []),
      () => name,
    );
    const d = newest.get(name);
    if (d) note(used, d.from, 'Node sweep', `${d.value[0].rung} ${name}`);
    for (const o of older) note(superseded, o.from, 'Node sweep', `${o.value[0].rung} ${name}`);
    return d;
  };
  const imageTokens = sweep('by image tokens', (rep) => rep.imageTokens);
  const lengths = sweep('by generated tokens', (rep) => rep.lengths);
  const ab = newestBy(
    reps,
    (rep) => rep.browserThreadsAB ?? [],
    (t) => `${t.rung}@${t.images}`,
  );
  for (const d of ab.newest.values()) note(used, d.from, 'Chromium threads 1 vs 2', d.value.rung);
  for (const d of ab.older) note(superseded, d.from, 'Chromium threads 1 vs 2', d.value.rung);
  const newestFirst = (a: Contribution, b: Contribution) => Date.parse(b.from.rep.date) - Date.parse(a.from.rep.date);
  return {
    rungs: [...rungs.values()].sort(
      (a, b) => a.entry.params - b.entry.params || PRECISION_ORDER.indexOf(a.dtype) - PRECISION_ORDER.indexOf(b.dtype),
    ),
    imageTokens,
    lengths,
    browserThreads: [...ab.newest.values()],
    used: used.sort(newestFirst),
    superseded: superseded.sort(newestFirst),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing

type Sel = d3.Selection<SVGGElement, unknown, null, undefined>;
type Shape = 'fp32' | 'q8' | 'q4';
/** Marker of a decoder precision (q4-all: every graph 4-bit, the decoder too). */
const shapeOf = (p: Precision): Shape => (p === 'q4-all' ? 'q4' : p);
const SYMBOL: Record<Shape, d3.SymbolType> = { fp32: d3.symbolCircle, q8: d3.symbolSquare, q4: d3.symbolTriangle };
/** A point; consecutive points of one series are joined only when their `join` keys match (same rung or precision). */
interface Point {
  x: number;
  y: number;
  shape: Shape;
  join: string;
  /** Horizontal offset in px (precisions of one rung side by side). */
  dx?: number;
}
interface Series {
  name: string;
  color: string;
  dash?: string;
  hollow?: boolean;
  /** Horizontal offset in px, so series with equal figures at one x stay visible side by side. */
  dx?: number;
  points: Point[];
}
interface Axis {
  label: string;
  log: boolean;
  domain: [number, number];
  ticks: number[];
  format: (n: number) => string;
}

const COLOR = {
  last: '#1f77b4',
  noattn: '#2ca02c',
  tjs: '#ff7f0e',
  wasm: '#9467bd',
  limit: '#7f7f7f',
  more: '#d62728',
};
const W = 1200;
const num = d3.format(',');
const fmt = (n: number) => (n >= 1 ? num(n) : String(n));
const ok = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x) && x > 0;
const steps125 = (lo: number, hi: number) =>
  d3
    .range(Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi)) + 1)
    .flatMap((e) => [1, 2, 5].map((m) => +(m * 10 ** e).toPrecision(3)))
    .filter((v) => v >= lo && v <= hi);
/** Log-axis bounds with a margin around the data (1–10 for none). */
const logDomain = (vs: number[], pad = 1.6): [number, number] =>
  vs.length ? [Math.min(...vs) / pad, Math.max(...vs) * pad] : [1, 10];

function marker(g: Sel, shape: Shape, x: number, y: number, color: string, hollow = false, size = 48) {
  g.append('path')
    .attr('d', d3.symbol(SYMBOL[shape], size)())
    .attr('transform', `translate(${x},${y})`)
    .attr('fill', hollow ? 'white' : color)
    .attr('stroke', color)
    .attr('stroke-width', hollow ? 1.5 : 0.5);
}

/** One panel: axes with units, gridlines, and each series' markers joined within a rung or precision. */
function panel(
  root: Sel,
  at: { x: number; y: number; w: number; h: number },
  title: string,
  xa: Axis,
  ya: Axis,
  series: Series[],
) {
  const g = root.append('g').attr('transform', `translate(${at.x},${at.y})`);
  const x = (xa.log ? d3.scaleLog() : d3.scaleLinear()).domain(xa.domain).range([0, at.w]);
  const y = (ya.log ? d3.scaleLog() : d3.scaleLinear()).domain(ya.domain).range([at.h, 0]);
  g.append('text').attr('x', 0).attr('y', -12).attr('font-weight', 'bold').attr('font-size', 14).text(title);
  if (!series.some((s) => s.points.length)) {
    g.append('text')
      .attr('x', 0)
      .attr('y', 20)
      .attr('font-size', 12)
      .attr('fill', '#555')
      .text('not measured in these reports');
    return { g, x, y };
  }
  g.append('g')
    .attr('stroke', '#eee')
    .selectAll('line')
    .data(ya.ticks)
    .join('line')
    .attr('x1', 0)
    .attr('x2', at.w)
    .attr('y1', (v) => y(v))
    .attr('y2', (v) => y(v));
  g.append('g')
    .attr('transform', `translate(0,${at.h})`)
    .call(
      d3
        .axisBottom(x)
        .tickValues(xa.ticks)
        .tickFormat((v) => xa.format(+v)),
    );
  g.append('g').call(
    d3
      .axisLeft(y)
      .tickValues(ya.ticks)
      .tickFormat((v) => ya.format(+v)),
  );
  g.append('text')
    .attr('x', at.w / 2)
    .attr('y', at.h + 36)
    .attr('text-anchor', 'middle')
    .attr('font-size', 12)
    .text(xa.label);
  g.append('text')
    .attr('transform', `translate(-52,${at.h / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle')
    .attr('font-size', 12)
    .text(ya.label);
  const inside = (p: Point) =>
    (!xa.log || p.x > 0) && (!ya.log || p.y > 0) && Number.isFinite(p.x) && Number.isFinite(p.y);
  for (const s of series) {
    const pts = s.points.filter(inside);
    const px = (p: Point) => x(p.x) + (s.dx ?? 0) + (p.dx ?? 0);
    for (let i = 1; i < pts.length; i++) {
      if (pts[i].join !== pts[i - 1].join) continue;
      g.append('line')
        .attr('x1', px(pts[i - 1]))
        .attr('y1', y(pts[i - 1].y))
        .attr('x2', px(pts[i]))
        .attr('y2', y(pts[i].y))
        .attr('stroke', s.color)
        .attr('stroke-width', 2)
        .attr('stroke-dasharray', s.dash ?? null);
    }
    for (const p of pts) marker(g, p.shape, px(p), y(p.y), s.color, s.hollow);
  }
  return { g, x, y };
}

/** A legend block: one row per series (line sample and marker) or per marker shape. Returns its height. */
function legend(
  root: Sel,
  x0: number,
  y0: number,
  rows: Array<{ series?: Series; shape?: Shape; text: string }>,
): number {
  const g = root.append('g').attr('transform', `translate(${x0},${y0})`).attr('font-size', 12);
  rows.forEach((r, i) => {
    const x = 0;
    const y = i * 18;
    if (r.series) {
      g.append('line')
        .attr('x1', x)
        .attr('x2', x + 26)
        .attr('y1', y)
        .attr('y2', y)
        .attr('stroke', r.series.color)
        .attr('stroke-width', 2)
        .attr('stroke-dasharray', r.series.dash ?? null);
      marker(g, r.series.points[0]?.shape ?? 'fp32', x + 13, y, r.series.color, r.series.hollow, 40);
    } else if (r.shape) marker(g, r.shape, x + 13, y, '#333', false, 56);
    g.append('text')
      .attr('x', x + 34)
      .attr('y', y + 4)
      .text(r.text);
  });
  return rows.length * 18;
}

/** A label the caption's line breaks keep whole ("500m q4"): its spaces made non-breaking until the line is written. */
const keep = (label: string) => label.replaceAll(' ', '\u00a0');
const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
const load1 = (rep: ScaleReport) =>
  `load ${rep.loadBefore[0].toFixed(1)} → ${(rep.loadAfter ?? rep.loadBefore)[0].toFixed(1)}`;

/** Decode tokens/s of one variant of a rung's Node decode job. */
const nodeTps = (r: PlotRung, k: Variant) =>
  r.node && !isErr(r.node.value.node) ? r.node.value.node?.variants[k]?.decodeTps : undefined;
const decoderOf = (p: Precision) => (p === 'q4-all' ? 'q4' : p);
/** Precisions of one rung 32 px apart, so a q4 point never sits on a q8 or fp32 one. */
const apart = (data: PlotData, r: PlotRung) => {
  const same = data.rungs.filter((x) => x.entry.rung === r.entry.rung);
  return (same.indexOf(r) - (same.length - 1) / 2) * 32;
};
/** A rung's point at `y` (none when y was not measured). */
const rungPoint = (data: PlotData, r: PlotRung, y: number | undefined): Point[] =>
  ok(y) ? [{ x: r.entry.params, y, shape: shapeOf(r.dtype), join: decoderOf(r.dtype), dx: apart(data, r) }] : [];
/** The bandwidth limit of a rung: copy bandwidth ÷ decoder bytes. */
const limitOf = (r: PlotRung) => {
  const from = (r.node ?? r.browser ?? r.atImages)!;
  return (from.from.rep.copyGBs * 1e9) / from.value.weightBytes;
};
/** One thread count of the Chromium thread A/B at a rung and image size; a count ONNX Runtime did not run is not drawn. */
const threadsAt = (data: PlotData, rung: string, images: string, t: string) => {
  const x = data.browserThreads.find((b) => b.value.rung === rung && b.value.images === images)?.value.result
    .byThreads?.[t];
  return x && x.inUse === Number(t) ? x : undefined;
};

/** Where the first row of panels starts. */
const TOP = 48;
/** The decode panel's box; the second row starts below it. */
const DECODE_AT = { x: 80, y: TOP, w: 620, h: 340 };
const ROW2 = TOP + DECODE_AT.h + 110;
/** The prefill panel's box (the caption starts below it and its legend). */
const PREFILL_AT = { x: 80, y: ROW2, w: 430, h: 250 };

/** Decode against parameters, every rung and precision, with its legend and notes to the right. */
function decodePanel(root: Sel, data: PlotData): void {
  const rs = data.rungs;
  const decode: Series[] = [
    {
      name: 'bandwidth limit: copy GB/s ÷ decoder bytes',
      color: COLOR.limit,
      dash: '5 4',
      hollow: true,
      points: rs.flatMap((r) => rungPoint(data, r, limitOf(r))),
    },
    {
      name: 'ours, last layer captured (Node)',
      color: COLOR.last,
      dx: -10,
      points: rs.flatMap((r) => rungPoint(data, r, nodeTps(r, 'last'))),
    },
    {
      name: 'same weights, no attention outputs (Node)',
      color: COLOR.noattn,
      dx: -5,
      points: rs.flatMap((r) => rungPoint(data, r, nodeTps(r, 'noattn'))),
    },
    {
      name: 'transformers.js generate() (Node)',
      color: COLOR.tjs,
      dx: 0,
      points: rs.flatMap((r) => rungPoint(data, r, nodeTps(r, 'tjs'))),
    },
    {
      name: 'ours in Chromium WASM, last layer',
      color: COLOR.wasm,
      dx: 5,
      points: rs.flatMap((r) => rungPoint(data, r, r.browser?.value.browser?.decodeTps?.last)),
    },
    // Reports saved before the Chromium transformers.js variants have no such series.
    ...(rs.some((r) => r.browser?.value.browser?.decodeTps?.tjs !== undefined)
      ? [
          {
            name: 'transformers.js generate() in Chromium WASM',
            color: COLOR.tjs,
            dash: '2 3',
            hollow: true,
            dx: 15,
            points: rs.flatMap((r) => rungPoint(data, r, r.browser?.value.browser?.decodeTps?.tjs)),
          },
        ]
      : []),
    {
      name: 'ours in Chromium WASM, 2 threads (thread A/B)',
      color: COLOR.wasm,
      dash: '2 3',
      hollow: true,
      dx: 10,
      points: rs
        .filter((r) => r.dtype === 'fp32')
        .flatMap((r) => rungPoint(data, r, threadsAt(data, r.entry.rung, '100', '2')?.decodeTps)),
    },
  ];
  const dAll = decode.flatMap((s) => s.points);
  const dAt = DECODE_AT;
  const xParams: Axis = {
    label: 'parameters (log scale)',
    log: true,
    domain: logDomain(
      dAll.map((p) => p.x),
      1.8,
    ),
    ticks: [1e6, 1e7, 1e8, 1e9],
    format: (n) => (n >= 1e9 ? `${n / 1e9} B` : `${n / 1e6} M`),
  };
  const dY = logDomain(
    dAll.map((p) => p.y),
    1.5,
  );
  const yTps: Axis = {
    label: 'decode tokens/s (log scale)',
    log: true,
    domain: dY,
    ticks: steps125(dY[0], dY[1]),
    format: fmt,
  };
  const d = panel(
    root,
    dAt,
    'Decode speed against model size (~100 image tokens, 1 ORT thread unless named)',
    xParams,
    yTps,
    decode,
  );
  // The rungs by name along the top, a faint line down each.
  const seen = new Set<string>();
  for (const r of rs) {
    if (seen.has(r.entry.rung)) continue;
    seen.add(r.entry.rung);
    const px = d.x(r.entry.params);
    d.g
      .append('line')
      .attr('x1', px)
      .attr('x2', px)
      .attr('y1', 0)
      .attr('y2', dAt.h)
      .attr('stroke', '#ccc')
      .attr('stroke-dasharray', '2 3');
    d.g
      .append('text')
      .attr('x', px)
      .attr('y', 12)
      .attr('text-anchor', 'middle')
      .attr('font-size', 11)
      .attr('fill', '#555')
      .attr('paint-order', 'stroke')
      .attr('stroke', 'white')
      .attr('stroke-width', 3)
      .text(`${r.entry.rung} ${fmtParams(r.entry.params)}`);
  }
  // A 4-bit decoder in Chromium: onnxruntime-web has no 4-bit WASM kernel (docs/bench/LOG.md, "500m in q4 and q8").
  for (const r of rs.filter((x) => shapeOf(x.dtype) === 'q4')) {
    const tps = r.browser?.value.browser?.decodeTps?.last;
    if (!ok(tps)) continue;
    d.g
      .append('text')
      .attr('x', d.x(r.entry.params) + apart(data, r) - 4)
      .attr('y', d.y(tps) + 4)
      .attr('text-anchor', 'end')
      .attr('font-size', 11)
      .attr('fill', COLOR.wasm)
      .text('q4 in WASM: no 4-bit kernel');
  }
  // Legend to the right of the plot, series then precisions.
  let ly = TOP + 8;
  const lx = dAt.x + dAt.w + 40;
  ly +=
    legend(
      root,
      lx,
      ly,
      decode.map((s) => ({ series: s, text: s.name })),
    ) + 12;
  const precisionText: Record<Precision, string> = {
    fp32: 'fp32',
    q8: 'q8 decoder, 8-bit',
    q4: 'q4 decoder, 4-bit',
    'q4-all': 'q4-all: every graph 4-bit',
  };
  const shapeRows = PRECISION_ORDER.filter((p) => rs.some((r) => r.dtype === p)).map((p) => ({
    shape: shapeOf(p),
    text: `${precisionText[p]} (${rs
      .filter((r) => r.dtype === p)
      .map((r) => r.entry.rung)
      .join(', ')})`,
  }));
  root
    .append('text')
    .attr('x', lx)
    .attr('y', ly + 4)
    .attr('font-size', 12)
    .attr('font-weight', 'bold')
    .text('marker = precision');
  ly += 20;
  ly += legend(root, lx, ly, shapeRows) + 10;
  // Forced tokens per run drawn, e.g. "32 (mini, 25m, 100m)".
  const forced = d3.rollup(
    rs.flatMap((r) => [r.node, r.browser]).filter((x) => x !== undefined),
    (xs) => [...new Set(xs.map((x) => x.value.label))],
    (x) => x.from.rep.tokens,
  );
  const notes = [
    'q8 and q4 quantize the decoder only (vision and embeddings fp32).',
    'Lines join one precision across rungs. Precisions of one rung are',
    'drawn apart, and each series a few px from the next.',
    `Decode over ${[...forced]
      .sort((a, b) => b[0] - a[0])
      .map(([t, labels]) => `${t} forced tokens (${labels.join(', ')})`)
      .join(', ')}.`,
  ];
  wrap(root, lx, ly + 6, notes.join(' '), 62, 11, '#555');
}

/** Prefill against image tokens; returns the height of its legend. */
function prefillPanel(root: Sel, data: PlotData): number {
  // Prefill against image tokens: the mid rung's sweep (Node), its Chromium thread A/B, and every rung measured at more
  // image tokens (e.g. 2b at 1,296).
  const it = data.imageTokens?.value.filter((s) => !isErr(s.node)) ?? [];
  const mid = data.imageTokens?.value[0]?.rung;
  const sweepPts = (k: 'last' | 'noattn'): Point[] =>
    it.flatMap((s) => {
      const n = s.node as DecodeResult;
      const ms = n.variants[k]?.prefillMs;
      // Reports written before the sweeps recorded their counts carry 0: the requested count (100 / 400 / 1300) stands in.
      const x = n.imageTokens || Number(s.tokens);
      return ok(ms) && ok(x) ? [{ x, y: ms / 1000, shape: 'fp32' as Shape, join: 'sweep' }] : [];
    });
  const abPts = (rung: string, t: string): Point[] =>
    data.browserThreads
      .filter((b) => b.value.rung === rung)
      .flatMap((b) => {
        const x = threadsAt(data, rung, b.value.images, t);
        return x && ok(b.value.result.imageTokens)
          ? [{ x: b.value.result.imageTokens, y: x.prefillMs / 1000, shape: 'fp32' as Shape, join: 'ab' }]
          : [];
      })
      .sort((a, b) => a.x - b.x);
  const atMore = data.rungs.filter((r) => r.atImages);
  const prefill: Series[] = [
    {
      name: `${mid ?? '-'} fp32, ours, last layer captured (Node)`,
      color: COLOR.last,
      dx: -3,
      points: sweepPts('last'),
    },
    { name: `${mid ?? '-'} fp32, no attention outputs (Node)`, color: COLOR.noattn, dx: 3, points: sweepPts('noattn') },
    {
      name: `${mid ?? '-'} fp32, Chromium WASM, 1 thread (thread A/B)`,
      color: COLOR.wasm,
      points: mid ? abPts(mid, '1') : [],
    },
    {
      name: `${mid ?? '-'} fp32, Chromium WASM, 2 threads (thread A/B)`,
      color: COLOR.wasm,
      dash: '2 3',
      hollow: true,
      points: mid ? abPts(mid, '2') : [],
    },
    ...atMore.map((r) => {
      const base = r.node && !isErr(r.node.value.node) ? (r.node.value.node as DecodeResult) : undefined;
      const more = Object.values(r.atImages!.value.atImages!)
        .map((a) => a.node.last)
        .filter((m): m is MemoryResult => measured(m));
      const points = [
        ...(base && ok(base.variants.last?.prefillMs)
          ? [{ x: base.imageTokens, y: base.variants.last!.prefillMs / 1000 }]
          : []),
        ...more.map((m) => ({ x: m.imageTokens, y: m.prefillMs / 1000 })),
      ].map((p) => ({ ...p, shape: shapeOf(r.dtype), join: r.label }));
      return {
        name: `${r.label}, ours, last layer captured (Node)`,
        color: COLOR.more,
        points: points.sort((a, b) => a.x - b.x),
      };
    }),
  ].filter((s) => s.points.length);
  const pAll = prefill.flatMap((s) => s.points);
  const pAt = PREFILL_AT;
  const pX = logDomain(
    pAll.map((p) => p.x),
    1.25,
  );
  const pY = logDomain(
    pAll.map((p) => p.y),
    1.6,
  );
  const imageTicks = [...new Set(pAll.map((p) => p.x))].sort((a, b) => a - b);
  panel(
    root,
    pAt,
    'Prefill against image tokens (1 ORT thread unless named)',
    { label: 'image tokens (log scale)', log: true, domain: pX, ticks: imageTicks, format: num },
    { label: 'prefill s (log scale)', log: true, domain: pY, ticks: steps125(pY[0], pY[1]), format: fmt },
    prefill,
  );
  const pLegend = legend(
    root,
    pAt.x - 40,
    pAt.y + pAt.h + 56,
    prefill.map((s) => ({ series: s, text: s.name })),
  );
  return pLegend;
}

/** RSS over generated tokens. */
function rssPanel(root: Sel, data: PlotData): void {
  // RSS over generated tokens: the longest run of the length sweep.
  const longest = data.lengths?.value.filter((s) => !isErr(s.node)).at(-1);
  const rss: Series[] = longest
    ? [
        {
          name: `${longest.rung} fp32, last layer captured, ~100 image tokens, ${longest.tokens} tokens (Node)`,
          color: COLOR.last,
          points: (longest.node as MemoryResult).rssAt.map(([t, mb]) => ({
            x: t,
            y: mb,
            shape: 'fp32' as Shape,
            join: 'rss',
          })),
        },
      ]
    : [];
  const rAll = rss.flatMap((s) => s.points);
  const rAt = { x: 660, y: ROW2, w: 480, h: 250 };
  const rX = d3.max(rAll, (p) => p.x) ?? 1;
  const rY = (d3.max(rAll, (p) => p.y) ?? 1) * 1.15;
  const r = panel(
    root,
    rAt,
    'Memory over the answer (RSS every 128 tokens)',
    { label: 'generated tokens', log: false, domain: [0, rX * 1.04], ticks: d3.ticks(0, rX, 5), format: num },
    { label: 'process RSS MB', log: false, domain: [0, rY], ticks: d3.ticks(0, rY, 5), format: num },
    rss,
  );
  legend(
    root,
    rAt.x - 40,
    rAt.y + rAt.h + 56,
    rss.map((s) => ({ series: s, text: s.name })),
  );
  const [first, last] = [rAll[0], rAll.at(-1)];
  if (first && last && last !== first) {
    r.g
      .append('text')
      .attr('x', r.x(last.x))
      .attr('y', r.y(last.y) - 12)
      .attr('text-anchor', 'end')
      .attr('font-size', 12)
      .attr('fill', COLOR.last)
      .text(`${num(Math.round(first.y))} MB at token ${first.x} → ${num(Math.round(last.y))} MB at ${num(last.x)}`);
  }
}

/** The caption below the panels: the machine, every report drawn with what it gave, what was superseded; returns
 * the y below it. */
function caption(root: Sel, data: PlotData, prefillLegend: number): number {
  // Caption: the machine, then every report drawn (newest first) with what it gave, then what was superseded.
  let cy = PREFILL_AT.y + PREFILL_AT.h + 56 + prefillLegend + 40;
  const m = data.used[0]?.from.rep.machine;
  const cap = root.append('g').attr('font-size', 11).attr('fill', '#333');
  const line = (text: string, bold = false) => {
    breakLines(text, 190).forEach((l, i) => {
      cap
        .append('text')
        .attr('x', i ? 40 : 20)
        .attr('y', cy)
        .attr('font-weight', bold ? 'bold' : null)
        .text(l.replaceAll('\u00a0', ' ')); // no &nbsp; in the XML
      cy += 15;
    });
  };
  line(
    `Runs drawn — per rung and precision, the newest report's figures (report timestamps). ${m ? `${m.cpus}, ${m.cores} cores, ${m.memGiB.toFixed(0)} GiB, Node ${m.node}.` : ''}`,
    true,
  );
  const byReport = d3.group(data.used, (c) => c.from);
  for (const [from, cs] of byReport) {
    line(
      `${path.basename(from.file)} (${utc(from.rep.date)}, ${load1(from.rep)}, copy ${from.rep.copyGBs.toFixed(1)} GB/s): ${cs.map((c) => `${c.what}: ${c.labels.map(keep).join(', ')}`).join(' · ')}`,
    );
  }
  if (data.superseded.length) {
    const old = d3.group(data.superseded, (c) => c.from);
    line(
      `Not drawn, superseded by a newer run of the same rung and precision: ${[...old].map(([from, cs]) => `${path.basename(from.file)} (${utc(from.rep.date)}: ${cs.map((c) => `${c.what}: ${c.labels.map(keep).join(', ')}`).join(' · ')})`).join('; ')}`,
    );
  }
  line(
    "Load = 1-minute load average at the run's start → end on this shared 2-core machine; above ~2 other work inflated the timings.",
  );
  return cy;
}

/** The SVG text of the figures picked from the reports. */
export function plotReports(data: PlotData): string {
  const window = new Window();
  const body = window.document.body as unknown as HTMLElement;
  const svg = d3
    .select(body)
    .append('svg')
    .attr('xmlns', 'http://www.w3.org/2000/svg')
    .attr('width', W)
    .attr('font-family', 'sans-serif') as unknown as d3.Selection<SVGSVGElement, unknown, null, undefined>;
  const bg = svg.append('rect').attr('width', W).attr('fill', 'white');
  const root = svg.append('g') as unknown as Sel;
  decodePanel(root, data);
  const prefillLegend = prefillPanel(root, data);
  rssPanel(root, data);
  const H = caption(root, data, prefillLegend) + 4;
  svg.attr('height', H);
  bg.attr('height', H);
  return body.innerHTML;
}

const fmtParams = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : `${n >= 1e7 ? Math.round(n / 1e6) : (n / 1e6).toFixed(1)} M`;

/** Text broken into lines of at most `chars` characters (at spaces; a longer word stays whole). */
const breakLines = (text: string, chars: number) =>
  text.split(' ').reduce<string[]>((lines, w) => {
    if (lines.length && (lines.at(-1)! + ' ' + w).length <= chars) lines[lines.length - 1] += ' ' + w;
    else lines.push(w);
    return lines;
  }, []);

/** Text wrapped at about `chars` characters a line. */
function wrap(root: Sel, x: number, y: number, text: string, chars: number, size: number, color: string) {
  breakLines(text, chars).forEach((l, i) =>
    root
      .append('text')
      .attr('x', x)
      .attr('y', y + i * (size + 3))
      .attr('font-size', size)
      .attr('fill', color)
      .text(l),
  );
}

/** Renders an SVG to PNG in headless Chromium (the system build the browser tests launch), to look at it. The SVG is
 * loaded as an image, as a README shows it: parsed as XML, which is stricter than inline HTML. */
export async function renderPng(svgText: string, png: string): Promise<void> {
  const { chromium } = await import('playwright-core');
  const { CHROMIUM_ARGS, CHROMIUM_PATH } = await import('../support/chromium.ts');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.setContent(
      `<!doctype html><body style="margin:0"><img src="data:image/svg+xml;base64,${Buffer.from(svgText).toString('base64')}"></body>`,
    );
    const img = page.locator('img');
    if (
      !(await img.evaluate((el: HTMLImageElement) =>
        el.decode().then(
          () => el.naturalWidth > 0,
          () => false,
        ),
      ))
    )
      throw new Error('the SVG does not load as an image');
    await img.screenshot({ path: png });
  } finally {
    await browser.close();
  }
}
