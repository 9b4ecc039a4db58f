/**
 * @file The evaluation plot as a standalone SVG, drawn with d3 (scales, ticks, formats, line and symbol
 * generators) into markup strings, so it needs no DOM in Node. Like the paper's Fig. 2:
 * left, each model's mean R_a against its accuracy; right, every sample's R_a split by correctness, per model.
 */
import * as d3 from 'd3';

/** One model's samples for the plot. */
export interface PlotModel {
  name: string;
  accuracy: number;
  meanRa: number | null;
  samples: Array<{ line: number; R_a: number | null; correct: boolean; session?: string | null }>;
}

const W = 900;
const H = 420;
const M = { top: 56, right: 20, bottom: 60, left: 56 };
const COLORS = d3.schemeTableau10;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Deterministic jitter in [-1, 1] from a sample's line number. */
function jitter(line: number): number {
  const x = Math.sin(line * 12.9898) * 43758.5453;
  return (x - Math.floor(x)) * 2 - 1;
}

function yAxis(y: d3.ScaleLinear<number, number>, x0: number, x1: number, label: string): string {
  const ticks = y.ticks(5).map((t) => {
    const py = y(t).toFixed(1);
    return `<line x1="${x0}" x2="${x1}" y1="${py}" y2="${py}" stroke="#e5e5e5"/><text x="${x0 - 6}" y="${py}" dy="0.32em" text-anchor="end">${d3.format('.1f')(t)}</text>`;
  });
  const mid = (y.range()[0] + y.range()[1]) / 2;
  return `${ticks.join('')}<text transform="translate(${x0 - 40},${mid}) rotate(-90)" text-anchor="middle">${esc(label)}</text>`;
}

/** Left panel: one point per model at (accuracy, mean R_a). */
function modelPanel(models: PlotModel[], x0: number, x1: number): string {
  const x = d3.scaleLinear().domain([0, 1]).range([x0, x1]);
  const y = d3
    .scaleLinear()
    .domain([0, 1])
    .range([H - M.bottom, M.top]);
  const xt = x
    .ticks(5)
    .map(
      (t) => `<text x="${x(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${d3.format('.0%')(t)}</text>`,
    );
  const symbol = d3.symbol().type(d3.symbolCircle).size(90);
  const points = models.map((m, i) => {
    if (m.meanRa === null) return '';
    return `<path transform="translate(${x(m.accuracy).toFixed(1)},${y(m.meanRa).toFixed(1)})" d="${symbol()}" fill="${COLORS[i % 10]}" fill-opacity="0.8"/>`;
  });
  const legend = models.map((m, i) => {
    const ly = M.top + 10 + 15 * i;
    const figures = `${d3.format('.1%')(m.accuracy)}, R_a ${m.meanRa === null ? 'n/a' : d3.format('.3f')(m.meanRa)}`;
    return `<path transform="translate(${x0 + 10},${ly})" d="${symbol()}" fill="${COLORS[i % 10]}"/><text x="${x0 + 20}" y="${ly}" dy="0.32em">${esc(m.name)} (${figures})</text>`;
  });
  return [
    `<text x="${(x0 + x1) / 2}" y="${M.top - 16}" text-anchor="middle" font-weight="bold">mean R_a vs accuracy</text>`,
    yAxis(y, x0, x1, 'mean R_a'),
    ...xt,
    `<text x="${(x0 + x1) / 2}" y="${H - M.bottom + 36}" text-anchor="middle">accuracy (normalised exact match)</text>`,
    `<line x1="${x0}" x2="${x1}" y1="${y(0.5)}" y2="${y(0.5)}" stroke="#999" stroke-dasharray="4 3"/>`,
    ...points,
    ...legend,
  ].join('\n');
}

/** Right panel: per model, the samples' R_a for wrong and correct answers, with the group means. */
function samplePanel(models: PlotModel[], x0: number, x1: number): string {
  const groups = models.flatMap((m, i) =>
    [false, true].map((correct) => ({ model: m, i, correct, key: `${i}-${correct}` })),
  );
  const x = d3
    .scaleBand<string>()
    .domain(groups.map((g) => g.key))
    .range([x0, x1])
    .paddingInner(0.25)
    .paddingOuter(0.1);
  const y = d3
    .scaleLinear()
    .domain([0, 1])
    .range([H - M.bottom, M.top]);
  const meanLine = d3.line<[number, number]>();
  const parts = groups.map((g) => {
    const left = x(g.key) ?? x0;
    const width = x.bandwidth();
    const values = g.model.samples.filter((s) => s.correct === g.correct && s.R_a !== null);
    // Every dot names its record line (tooltip); a dot whose question has a session file is ringed, names the file
    // and links to it (the path is relative to --out, where the plot is).
    const dots = values.map((s) => {
      const cx = (left + width / 2 + jitter(s.line) * width * 0.35).toFixed(1);
      const cy = y(s.R_a!).toFixed(1);
      const tip = `line ${s.line}: R_a ${d3.format('.3f')(s.R_a!)}${s.session ? ` — ${s.session}` : ''}`;
      const ring = s.session ? ` stroke="#222" stroke-width="0.8" data-session="${esc(s.session)}"` : '';
      const dot = `<circle cx="${cx}" cy="${cy}" r="${s.session ? 3 : 2.2}" fill="${COLORS[g.i % 10]}" fill-opacity="${g.correct ? 0.75 : 0.35}"${ring}><title>${esc(tip)}</title></circle>`;
      return s.session ? `<a href="${esc(s.session)}">${dot}</a>` : dot;
    });
    const mean = d3.mean(values, (s) => s.R_a!);
    const line =
      mean === undefined
        ? ''
        : `<path d="${meanLine([
            [left, y(mean)],
            [left + width, y(mean)],
          ])}" stroke="#222" stroke-width="2"/>`;
    const label = `<text x="${left + width / 2}" y="${H - M.bottom + 16}" text-anchor="middle">${g.correct ? 'correct' : 'wrong'} (${values.length})</text>`;
    return dots.join('') + line + label;
  });
  const names = models.map((m, i) => {
    const a = x(`${i}-false`) ?? x0;
    const b = (x(`${i}-true`) ?? x0) + x.bandwidth();
    return `<text x="${(a + b) / 2}" y="${H - M.bottom + 36}" text-anchor="middle" fill="${COLORS[i % 10]}" font-weight="bold">${esc(m.name)}</text>`;
  });
  return [
    `<text x="${(x0 + x1) / 2}" y="${M.top - 16}" text-anchor="middle" font-weight="bold">per-sample R_a by correctness (bar: mean)</text>`,
    yAxis(y, x0, x1, "R_a (mean over the answer's tokens)"),
    ...parts,
    ...names,
  ].join('\n');
}

/** The whole figure as SVG markup. */
export function renderPlot(models: PlotModel[], title: string): string {
  const split = M.left + (W - M.left - M.right) * 0.36;
  const withSessions = models.some((m) => m.samples.some((s) => s.session));
  return (
    [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
      `<rect width="${W}" height="${H}" fill="white"/>`,
      `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`,
      modelPanel(models, M.left, split - 30),
      samplePanel(models, split + 60, W - M.right),
      withSessions
        ? `<text x="${W - M.right}" y="${H - 8}" text-anchor="end" fill="#555">ringed: a session file was written for the question (hover a dot for its line and file)</text>`
        : '',
      '</svg>',
    ].join('\n') + '\n'
  );
}
