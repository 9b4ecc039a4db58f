/**
 * @file The colour legend of a scale: a gradient bar with a d3 axis of nice ticks underneath and a caption.
 * SVG; the gradient is sampled from the same lookup table `colorFor` uses, so the legend and the canvas agree. Updated
 * in place when only the scale's domain or caption change.
 */
import { axisBottom, scaleLinear, select } from 'd3';
import { svgRoot } from './dom.ts';
import { formatValue, scaleTicks, type ColorScale } from './scale.ts';

/** Options of {@link renderLegend}. */
export interface LegendOptions {
  /** Total width in CSS pixels (default 240). */
  width?: number;
  /** Height of the colour bar (default 10). */
  barHeight?: number;
  /** Approximate number of ticks (default 5). */
  ticks?: number;
  /** Caption above the bar (default: the scale's label). */
  title?: string;
}

/** Legend defaults. */
export const LEGEND_DEFAULTS = { width: 240, barHeight: 10, ticks: 5, margin: 8, stops: 17 } as const;

/** What a drawn legend was built for (an update in place needs the same) and the colour table of its gradient. */
interface Drawn {
  shape: string;
  lut: Uint8Array;
}
const drawn = new WeakMap<Element, Drawn>();

/**
 * Renders the legend of a colour scale as an `<svg>`.
 * The gradient id is derived from the scheme (same scheme → same gradient), so legends are deterministic. Given the
 * svg it returned last time (`into`) for the same width, bar and scheme, it updates that svg in place (caption,
 * gradient colours, ticks) to the markup a fresh render gives and returns it (the head matrices' legends follow
 * every box edit).
 */
export function renderLegend(scale: ColorScale, options: LegendOptions = {}, into?: Element | null): SVGSVGElement {
  const {
    width = LEGEND_DEFAULTS.width,
    barHeight = LEGEND_DEFAULTS.barHeight,
    ticks = LEGEND_DEFAULTS.ticks,
  } = options;
  const title = options.title ?? scale.label;
  const m = LEGEND_DEFAULTS.margin;
  const top = 16;
  const height = top + barHeight + 22;
  const id = `sayo-legend-${scale.scheme}`;
  const shape = `${width}|${barHeight}|${id}`;
  const kept = into ? drawn.get(into) : undefined;
  const reuse = kept?.shape === shape;
  const ariaLabel = `${title}: from ${formatValue(scale.domain[0])} to ${formatValue(scale.domain[1])}`;
  const node = svgRoot(reuse ? (into as SVGSVGElement) : null, { width, height }, ariaLabel, 'sayo-legend');
  drawn.set(node, { shape, lut: scale.lut });
  const svg = select(node);
  const n = LEGEND_DEFAULTS.stops;
  const stopColor = (i: number) => {
    const li = Math.round((i / (n - 1)) * 255) * 3;
    return `rgb(${scale.lut[li]},${scale.lut[li + 1]},${scale.lut[li + 2]})`;
  };
  const x = scaleLinear()
    .domain(scale.domain)
    .range([m, width - m]);
  const axis = axisBottom(x)
    .tickValues(scaleTicks(scale, ticks))
    .tickFormat((v) => formatValue(Number(v)))
    .tickSizeOuter(0);
  if (reuse) {
    if (kept.lut !== scale.lut) svg.selectAll('stop').attr('stop-color', (_, i) => stopColor(i));
    const caption = svg.selectChild<SVGTextElement>('text');
    if (caption.text() !== title) caption.text(title);
    // d3's axis keeps the ticks at unchanged positions and appends the new ones: sort them back into value order.
    svg
      .selectChild<SVGGElement>('g')
      .call(axis)
      .selectAll<SVGGElement, number>('.tick')
      .sort((a, b) => a - b);
    return node;
  }
  const gradient = svg
    .append('defs')
    .append('linearGradient')
    .attr('id', id)
    .attr('x1', '0')
    .attr('x2', '1')
    .attr('y1', '0')
    .attr('y2', '0');
  for (let i = 0; i < n; i++)
    gradient
      .append('stop')
      .attr('offset', `${Math.round((i / (n - 1)) * 1000) / 10}%`)
      .attr('stop-color', stopColor(i));
  svg.append('text').attr('x', m).attr('y', 11).attr('font-size', 11).attr('fill', 'currentColor').text(title);
  svg
    .append('rect')
    .attr('x', m)
    .attr('y', top)
    .attr('width', width - 2 * m)
    .attr('height', barHeight)
    .attr('fill', `url(#${id})`);
  svg
    .append('g')
    .attr('transform', `translate(0,${top + barHeight})`)
    .call(axis);
  return node;
}
