/**
 * @file R_a per token as a sparkline (SVG): the line over the generated tokens, a dashed reference at 0.5
 * (attention inside the region equals the image mean), dots on the tokens selected for r_v (top entropy), a marker
 * on the picked token, and optional click targets per token; updated in place when only the values change.
 */
import { line, scaleLinear, select } from 'd3';
import { setAttr, svgRoot } from './dom.ts';
import { formatValue } from './scale.ts';

/** What a sparkline shows. */
export interface SparklineData {
  /** One value per token (R_a or entropy). */
  values: ArrayLike<number>;
  /** Tokens selected for r_v, marked with dots. */
  selected?: readonly number[];
  /** The picked token, marked with a vertical rule. */
  picked?: number | null;
}

/** Options of {@link renderSparkline}. */
export interface SparklineOptions {
  width?: number;
  height?: number;
  /** Value range of the y axis (default [0, 1], the range of R_a). */
  domain?: [number, number];
  /** Dashed reference value (default 0.5; null for none). */
  reference?: number | null;
  /** Accessible name / title (default "R_a per token"). */
  label?: string;
  /** Called with the token index when a token's column is clicked. */
  onPick?: (index: number) => void;
  /** Width of a left margin with a y-axis (ticks at the domain's ends and the reference); 0 / omitted: none. */
  axis?: number;
}

/** Sparkline defaults. */
export const SPARKLINE_DEFAULTS = {
  width: 240,
  height: 48,
  pad: 4,
  line: '#60a5fa',
  selected: '#f59e0b',
  picked: '#f472b6',
  reference: '#9ca3af',
} as const;

/** Sets an element's text, changing its one text node in place when it has one (a tooltip's new value on an update). */
function setText(el: Element, text: string): void {
  const only = el.firstChild;
  if (only && only === el.lastChild && only.nodeType === 3) {
    if ((only as Text).data !== text) (only as Text).data = text;
  } else el.textContent = text;
}

/** Rounds an SVG coordinate to 0.01 px (compact, stable markup). */
const r2 = (v: number) => Math.round(v * 100) / 100;

/** What a drawn sparkline's elements were built for (an update in place needs the same), and its current click handler. */
interface Drawn {
  shape: string;
  onPick?: (index: number) => void;
}
const drawn = new WeakMap<Element, Drawn>();

/**
 * Renders the sparkline as an `<svg>`; non-finite values leave a gap in the line. Given the svg it returned last time
 * (`into`) for the same size, axis, marks and token count, it updates that svg in place (the line, the dots, the
 * axis labels, the reference and the tooltips) and returns it: the same markup as a fresh render, without rebuilding
 * the elements (a box edit changes the values, not the shape).
 */
export function renderSparkline(
  data: SparklineData,
  options: SparklineOptions = {},
  into?: Element | null,
): SVGSVGElement {
  const D = SPARKLINE_DEFAULTS;
  const {
    width = D.width,
    height = D.height,
    domain = [0, 1],
    reference = 0.5,
    label = 'R_a per token',
    onPick,
    axis = 0,
  } = options;
  const values = Array.from(data.values);
  const count = values.length;
  const left = axis + D.pad;
  const xs = scaleLinear()
    .domain([0, Math.max(1, count - 1)])
    .range([left, width - D.pad]);
  const ys = scaleLinear()
    .domain(domain)
    .range([height - D.pad, D.pad])
    .clamp(true);
  const x = (i: number) => r2(xs(i));
  const y = (v: number) => r2(ys(v));
  const picked =
    data.picked !== undefined && data.picked !== null && data.picked >= 0 && data.picked < count ? data.picked : null;
  const shape = [
    width,
    height,
    axis,
    reference === null ? 'noref' : 'ref',
    picked === null ? 'nopick' : 'pick',
    onPick && count > 0 ? 'click' : 'view',
    count,
  ].join('|');
  const reuse = !!into && drawn.get(into)?.shape === shape;
  const node = svgRoot(
    reuse ? (into as SVGSVGElement) : null,
    { width, height },
    `${label}, ${count} tokens`,
    'sayo-sparkline',
  );
  drawn.set(node, { shape, onPick });
  const svg = select(node);
  if (axis > 0) {
    const ticks = [
      ...new Set([
        domain[0],
        ...(reference !== null && reference > domain[0] && reference < domain[1] ? [reference] : []),
        domain[1],
      ]),
    ];
    let g = svg.selectChild<SVGGElement>('g.y-axis');
    if (!reuse) {
      g = svg.append('g').attr('class', 'y-axis').attr('font-size', 9).attr('fill', '#374151');
      g.append('line')
        .attr('x1', axis)
        .attr('x2', axis)
        .attr('y1', D.pad)
        .attr('y2', height - D.pad)
        .attr('stroke', '#6b7280');
    }
    g.selectAll<SVGTextElement, number>('text')
      .data(ticks)
      .join('text')
      .each(function (v) {
        setAttr(this, 'x', axis - 3);
        setAttr(this, 'y', y(v));
        setAttr(this, 'text-anchor', 'end');
        setAttr(this, 'dominant-baseline', 'middle');
        setText(this, v.toFixed(2));
      });
  }
  if (reference !== null) {
    if (!reuse) {
      svg
        .append('line')
        .attr('class', 'reference')
        .attr('x1', left)
        .attr('x2', width - D.pad)
        .attr('y1', y(reference))
        .attr('y2', y(reference))
        .attr('stroke', D.reference)
        .attr('stroke-dasharray', '3 3');
    } else
      svg.selectChild<SVGLineElement>('line.reference').each(function () {
        setAttr(this, 'y1', y(reference));
        setAttr(this, 'y2', y(reference));
      });
  }
  if (picked !== null) {
    if (!reuse) {
      svg
        .append('line')
        .attr('class', 'picked')
        .attr('x1', x(picked))
        .attr('x2', x(picked))
        .attr('y1', D.pad)
        .attr('y2', height - D.pad)
        .attr('stroke', D.picked)
        .attr('stroke-width', 2);
    } else
      svg.selectChild<SVGLineElement>('line.picked').each(function () {
        setAttr(this, 'x1', x(picked));
        setAttr(this, 'x2', x(picked));
      });
  }
  const path = line<number>()
    .defined((v) => Number.isFinite(v))
    .x((_, i) => x(i))
    .y((v) => y(v))
    .digits(2)(values);
  if (!reuse)
    svg
      .append('path')
      .attr('class', 'line')
      .attr('d', path ?? '')
      .attr('fill', 'none')
      .attr('stroke', D.line)
      .attr('stroke-width', 1.5);
  else setAttr(svg.selectChild<SVGPathElement>('path.line').node()!, 'd', path ?? '');
  const dots = (data.selected ?? []).filter((i) => i >= 0 && i < count && Number.isFinite(values[i]));
  const dotGroup = reuse ? svg.selectChild<SVGGElement>('g.selected') : svg.append('g').attr('class', 'selected');
  dotGroup
    .selectAll<SVGCircleElement, number>('circle')
    .data(dots)
    .join((enter) =>
      enter
        .append('circle')
        .attr('cx', 0)
        .attr('cy', 0)
        .attr('r', 2.5)
        .attr('fill', D.selected)
        .call((c) => c.append('title')),
    )
    .each(function (i) {
      setAttr(this, 'cx', x(i));
      setAttr(this, 'cy', y(values[i]));
    })
    .select('title')
    .each(function (i) {
      setText(this as Element, `token ${i} (selected for r_v): ${formatValue(values[i])}`);
    });
  if (onPick && count > 0) {
    const step = count > 1 ? x(1) - x(0) : width;
    // The click handler of the svg as last rendered (an update in place may bring a new one).
    const pick = (i: number) => drawn.get(node)?.onPick?.(i);
    const hits = reuse ? svg.selectChild<SVGGElement>('g.hit') : svg.append('g').attr('class', 'hit');
    hits
      .selectAll('rect')
      .data(values.map((_, i) => i))
      .join((enter) =>
        enter
          .append('rect')
          .attr('x', (i) => x(i) - step / 2)
          .attr('y', 0)
          .attr('width', step)
          .attr('height', height)
          .attr('fill', 'transparent')
          .attr('aria-hidden', 'true')
          .on('click', (_event, i) => pick(i))
          .call((r) => r.append('title')),
      )
      .select('title')
      .each(function (i) {
        setText(this as Element, `token ${i}: ${formatValue(values[i])}`);
      });
  }
  return node;
}
