/**
 * @file Draws the scale benchmark's figures (the JSON of `npm run bench -- --scale --json FILE`) as one SVG with d3:
 * decode tokens/s against parameters (ours with the last layer captured, the same weights without attention outputs,
 * transformers.js generate(), Chromium WASM, and the bandwidth limit), prefill against image tokens, and RSS against
 * generated tokens. Usage: npx tsx bench/plot.ts <report.json>… <out.svg> (several reports of one session are merged:
 * their rungs side by side, the sweeps of whichever has them).
 */
import fs from 'node:fs';
import * as d3 from 'd3';
import { Window } from 'happy-dom';
import type { ScaleReport } from './scale.ts';

type Series = { name: string; color: string; dash?: string; points: Array<[number, number]> };

const W = 1200;
const H = 330;
const PANEL = { w: 290, h: 230, top: 50, left: 60, gap: 40 };

function panel(svg: d3.Selection<SVGSVGElement, unknown, null, undefined>, i: number, title: string, xLabel: string, yLabel: string, series: Series[], logX: boolean, logY: boolean) {
  const g = svg.append('g').attr('transform', `translate(${PANEL.left + i * (PANEL.w + PANEL.left + PANEL.gap)},${PANEL.top})`);
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0) && (!logY || y > 0));
  if (!all.length) return;
  const [x0, x1] = d3.extent(all, (p) => p[0]) as [number, number];
  const [y0, y1] = d3.extent(all, (p) => p[1]) as [number, number];
  const x = (logX ? d3.scaleLog() : d3.scaleLinear()).domain(logX ? [x0 / 1.5, x1 * 1.5] : [0, x1 * 1.05]).range([0, PANEL.w]);
  const y = (logY ? d3.scaleLog() : d3.scaleLinear()).domain(logY ? [y0 / 1.5, y1 * 1.5] : [0, y1 * 1.1]).range([PANEL.h, 0]);
  g.append('g').attr('transform', `translate(0,${PANEL.h})`).call(d3.axisBottom(x).ticks(4, logX ? '~s' : undefined));
  g.append('g').call(d3.axisLeft(y).ticks(5, logY ? '~s' : undefined));
  g.append('text').attr('x', 0).attr('y', -28).attr('font-weight', 'bold').attr('font-size', 13).text(title);
  g.append('text').attr('x', PANEL.w / 2).attr('y', PANEL.h + 34).attr('text-anchor', 'middle').attr('font-size', 11).text(xLabel);
  g.append('text').attr('transform', `translate(-44,${PANEL.h / 2}) rotate(-90)`).attr('text-anchor', 'middle').attr('font-size', 11).text(yLabel);
  const line = d3.line<[number, number]>().x((p) => x(p[0])).y((p) => y(p[1]));
  series.forEach((s, k) => {
    const pts = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && (!logX || a > 0) && (!logY || b > 0));
    g.append('path').attr('d', line(pts)).attr('fill', 'none').attr('stroke', s.color).attr('stroke-width', 2).attr('stroke-dasharray', s.dash ?? null);
    for (const p of pts) g.append('circle').attr('cx', x(p[0])).attr('cy', y(p[1])).attr('r', 3).attr('fill', s.color);
    g.append('text').attr('x', PANEL.w - 4).attr('y', 12 + 13 * k).attr('text-anchor', 'end').attr('font-size', 10).attr('fill', s.color).text(s.name);
  });
}

/** The SVG text of a report. */
export function plotReport(rep: ScaleReport): string {
  const window = new Window();
  const body = window.document.body as unknown as HTMLElement;
  const svg = d3.select(body).append('svg').attr('xmlns', 'http://www.w3.org/2000/svg').attr('width', W).attr('height', H).attr('font-family', 'sans-serif') as unknown as d3.Selection<SVGSVGElement, unknown, null, undefined>;
  svg.append('rect').attr('width', W).attr('height', H).attr('fill', 'white');
  const fp32 = rep.rungs.filter((r) => r.dtype === 'fp32' && r.node && !('error' in r.node));
  const v = (r: (typeof fp32)[number], k: string) => (r.node as any).variants[k]?.decodeTps as number;
  panel(svg, 0, 'Decode vs parameters (fp32, ~100 image tokens)', 'parameters', 'tokens/s', [
    { name: 'ours, last layer captured', color: '#1f77b4', points: fp32.map((r) => [r.entry.params, v(r, 'last')]) },
    { name: 'same weights, no attention outputs', color: '#2ca02c', points: fp32.map((r) => [r.entry.params, v(r, 'noattn')]) },
    { name: 'transformers.js generate()', color: '#ff7f0e', points: fp32.map((r) => [r.entry.params, v(r, 'tjs')]) },
    { name: 'Chromium WASM, last layer', color: '#9467bd', points: fp32.map((r) => [r.entry.params, r.browser?.decodeTps?.last ?? NaN]) },
    // Reports saved before the Chromium tjs variants have no such series.
    ...(fp32.some((r) => r.browser?.decodeTps?.tjs !== undefined)
      ? [{ name: 'Chromium WASM, transformers.js generate()', color: '#9467bd', dash: '2 2', points: fp32.map((r): [number, number] => [r.entry.params, r.browser?.decodeTps?.tjs ?? NaN]) }]
      : []),
    { name: 'bandwidth limit', color: '#7f7f7f', dash: '4 3', points: fp32.map((r) => [r.entry.params, (rep.copyGBs * 1e9) / r.weightBytes]) },
  ], true, true);
  const it = rep.imageTokens.filter((s) => !('error' in s.node));
  // Reports written before the sweeps recorded their counts carry 0: the requested count (100 / 400 / 1300) stands in.
  const tokensOf = (s: (typeof it)[number]) => (s.node as any).imageTokens || Number(s.tokens);
  panel(svg, 1, `Prefill vs image tokens (${it[0]?.rung ?? '-'})`, 'image tokens', 'prefill ms', [
    { name: 'ours, last layer captured', color: '#1f77b4', points: it.map((s) => [tokensOf(s), (s.node as any).variants.last?.prefillMs]) },
    { name: 'no attention outputs', color: '#2ca02c', points: it.map((s) => [tokensOf(s), (s.node as any).variants.noattn?.prefillMs]) },
  ], false, false);
  const longest = rep.lengths.filter((s) => !('error' in s.node)).at(-1);
  panel(svg, 2, `RSS over generated tokens (${longest?.rung ?? '-'})`, 'generated tokens', 'RSS MB', [
    { name: 'RSS, last layer captured', color: '#1f77b4', points: longest ? (longest.node as any).rssAt : [] },
  ], false, false);
  svg.append('text').attr('x', 10).attr('y', H - 8).attr('font-size', 10).attr('fill', '#555')
    .text(`${rep.machine.cpus}, ${rep.machine.cores} cores, ${rep.date.slice(0, 16)} UTC, load ${rep.loadBefore.map((x) => x.toFixed(1)).join(' ')} → ${rep.loadAfter?.map((x) => x.toFixed(1)).join(' ') ?? '?'} (shared machine: absolute figures inflated)`);
  return body.innerHTML;
}

/** Several reports as one: rungs by label (a Node-only and a Chromium-only run of a rung make one rung, the later
 * report's figures first), sorted by parameters; the sweeps of whichever has them. */
export function mergeReports(reps: ScaleReport[]): ScaleReport {
  type Rung = ScaleReport['rungs'][number];
  // A field a run did not measure is absent or an empty record (e.g. a Chromium-only run's `memory: {}`).
  const measured = (v: unknown) => v !== undefined && !(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
  const byLabel = new Map<string, Rung>();
  for (const r of reps.flatMap((x) => x.rungs)) {
    const had = byLabel.get(r.label);
    byLabel.set(r.label, had ? { ...had, ...(Object.fromEntries(Object.entries(r).filter(([, v]) => measured(v))) as Partial<Rung>) } : r);
  }
  const out: ScaleReport = { ...reps[0], rungs: [...byLabel.values()].sort((a, b) => a.entry.params - b.entry.params) };
  out.imageTokens = reps.find((r) => r.imageTokens.length)?.imageTokens ?? [];
  out.lengths = reps.find((r) => r.lengths.length)?.lengths ?? [];
  out.threadsAB = reps.flatMap((r) => r.threadsAB);
  out.loadBefore = reps.map((r) => r.loadBefore).reduce((a, b) => (a[0] >= b[0] ? a : b));
  out.loadAfter = reps.map((r) => r.loadAfter ?? r.loadBefore).reduce((a, b) => (a[0] >= b[0] ? a : b));
  return out;
}

if (process.argv[1]?.endsWith('plot.ts')) {
  const args = process.argv.slice(2);
  const output = args.pop();
  if (!args.length || !output?.endsWith('.svg')) {
    console.error('usage: npx tsx bench/plot.ts <scale report .json>… <out .svg>');
    process.exit(2);
  }
  const reps = args.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as ScaleReport);
  fs.writeFileSync(output, plotReport(mergeReports(reps)) + '\n');
  console.log(`wrote ${output}`);
}
