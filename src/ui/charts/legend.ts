/**
 * @file The colour legend of a scale: a gradient bar with a d3 axis of nice ticks underneath and a caption.
 * SVG; the gradient is sampled from the same lookup table `colorFor` uses, so the legend and the canvas agree.
 */
import { axisBottom, scaleLinear, select } from 'd3';
import { formatValue, scaleTicks, type ColorScale } from './scale';

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

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Renders the legend of a colour scale as an `<svg>`.
 * The gradient id is derived from the scheme (same scheme → same gradient), so legends are deterministic.
 */
export function renderLegend(scale: ColorScale, options: LegendOptions = {}): SVGSVGElement {
  const { width = LEGEND_DEFAULTS.width, barHeight = LEGEND_DEFAULTS.barHeight, ticks = LEGEND_DEFAULTS.ticks } = options;
  const title = options.title ?? scale.label;
  const m = LEGEND_DEFAULTS.margin;
  const top = 16;
  const height = top + barHeight + 22;
  const id = `sayo-legend-${scale.scheme}`;
  const svg = select(document.createElementNS(SVG_NS, 'svg') as SVGSVGElement)
    .attr('width', width)
    .attr('height', height)
    .attr('viewBox', `0 0 ${width} ${height}`)
    .attr('role', 'img')
    .attr('aria-label', `${title}: from ${formatValue(scale.domain[0])} to ${formatValue(scale.domain[1])}`)
    .attr('class', 'sayo-legend');
  const gradient = svg.append('defs').append('linearGradient').attr('id', id).attr('x1', '0').attr('x2', '1').attr('y1', '0').attr('y2', '0');
  const n = LEGEND_DEFAULTS.stops;
  for (let i = 0; i < n; i++) {
    const li = Math.round((i / (n - 1)) * 255) * 3;
    const [r, g, b] = [scale.lut[li], scale.lut[li + 1], scale.lut[li + 2]];
    gradient.append('stop').attr('offset', `${Math.round((i / (n - 1)) * 1000) / 10}%`).attr('stop-color', `rgb(${r},${g},${b})`);
  }
  svg.append('text').attr('x', m).attr('y', 11).attr('font-size', 11).attr('fill', 'currentColor').text(title);
  svg.append('rect').attr('x', m).attr('y', top).attr('width', width - 2 * m).attr('height', barHeight).attr('fill', `url(#${id})`);
  const x = scaleLinear().domain(scale.domain).range([m, width - m]);
  svg
    .append('g')
    .attr('transform', `translate(0,${top + barHeight})`)
    .call(axisBottom(x).tickValues(scaleTicks(scale, ticks)).tickFormat((v) => formatValue(Number(v))).tickSizeOuter(0));
  return svg.node() as SVGSVGElement;
}
