/**
 * @file "Which heads look where": a layers × heads matrix (SVG) of R_a per captured layer and head, for one model
 * (sequential scale) or for the trained − base difference (diverging scale). Cells are buttons: click, Enter or
 * Space picks that head (`onPick(layer, head)`), arrow keys move between cells.
 * `headMatrixRa` reads the matrix from a panel's core RewardCache (cached per-(layer, head) sums: a box edit costs
 * O(L·H·|targets|), not a pass over the raw attention).
 */
import { select } from 'd3';
import type { RewardCache } from '../../core/cache';
import type { Alignment } from '../../core/reward';
import { cssColor, formatValue, type ColorScale } from './scale';

/** A layers × heads matrix, layer-major: values[li · heads + h]. */
export interface HeadMatrixData {
  values: ArrayLike<number>;
  /** The decoder layer ids of the rows. */
  layers: readonly number[];
  heads: number;
}

/** Options of {@link renderHeadMatrix}. */
export interface HeadMatrixOptions {
  scale: ColorScale;
  /** Cell side in CSS pixels (default 18). */
  cell?: number;
  /** The head currently shown, outlined. */
  picked?: { layer: number; head: number } | null;
  /** Makes cells buttons that pick a (layer, head). */
  onPick?: (layer: number, head: number) => void;
  /** Accessible name, e.g. "R_a per head, SAYO-mini". */
  label?: string;
}

/** Matrix defaults. */
export const HEAD_MATRIX_DEFAULTS = { cell: 18, left: 34, top: 16, pickedStroke: '#f472b6' } as const;

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * R_a of every captured (layer, head) over the given tokens: a and v are averaged over the tokens (as a_q and v_q
 * are for r_v), then scored; for a single token this is that head's R_a (core `RewardCache.headRa`).
 * @param cache the panel's reward cache (state `panelCache`)
 * @param layers the decoder layer ids of the capture, in its order
 * @param targets the region's target tokens (core `boxToTokens`)
 * @param tokens indices of the tokens to use (e.g. [picked], all, or the top-entropy selection)
 * @param alignment which attention row a token owns (default 'produced')
 * @throws RangeError when there is no token, no target or no row for the tokens
 */
export function headMatrixRa(
  cache: RewardCache,
  layers: readonly number[],
  targets: Int32Array,
  tokens: readonly number[],
  alignment?: Alignment,
): HeadMatrixData {
  if (layers.length !== cache.layers) throw new RangeError(`${layers.length} layer ids for a capture of ${cache.layers} layers`);
  return { values: Float32Array.from(cache.headRa(targets, tokens, { alignment })), layers, heads: cache.heads };
}

/** Element-wise trained − base of two matrices with the same layers and heads. */
export function headMatrixDiff(trained: HeadMatrixData, base: HeadMatrixData): HeadMatrixData {
  if (trained.heads !== base.heads || trained.layers.join() !== base.layers.join()) {
    throw new RangeError(`head matrices differ in shape: layers [${trained.layers}] × ${trained.heads} vs [${base.layers}] × ${base.heads}`);
  }
  const values = Float32Array.from({ length: trained.values.length }, (_, i) => trained.values[i] - base.values[i]);
  return { values, layers: trained.layers, heads: trained.heads };
}

/** The pick handler of each drawn matrix (read by its delegated listeners, so an in-place update can replace it). */
const pickers = new WeakMap<SVGSVGElement, (layer: number, head: number) => void>();

/** Cell of a head-matrix event target: its position, layer id and head, or null outside the cells. */
function cellOf(target: EventTarget | null): { rect: SVGRectElement; layer: number; head: number; index: number } | null {
  const rect = target instanceof Element ? target.closest('rect[data-head]') : null;
  if (!rect) return null;
  return { rect: rect as SVGRectElement, layer: Number(rect.getAttribute('data-layer')), head: Number(rect.getAttribute('data-head')), index: Number(rect.getAttribute('data-index')) };
}

/** The svg skeleton of a matrix shape: labels and one rect per cell, with one click and one keydown listener. */
function buildHeadMatrix(layers: readonly number[], heads: number, cell: number, pickable: boolean, shape: string): SVGSVGElement {
  const { left, top } = HEAD_MATRIX_DEFAULTS;
  const width = left + heads * cell + 2;
  const height = top + layers.length * cell + 2;
  const svg = select(document.createElementNS(SVG_NS, 'svg') as SVGSVGElement)
    .attr('width', width).attr('height', height).attr('viewBox', `0 0 ${width} ${height}`)
    .attr('class', 'sayo-head-matrix').attr('role', pickable ? 'group' : 'img').attr('data-shape', shape);
  svg.append('g').attr('class', 'col-labels').selectAll('text').data(Array.from({ length: heads }, (_, h) => h)).join('text')
    .attr('x', (h) => left + h * cell + cell / 2).attr('y', top - 4).attr('text-anchor', 'middle').attr('font-size', 10)
    .attr('fill', 'currentColor').text((h) => String(h));
  svg.append('g').attr('class', 'row-labels').selectAll('text').data(layers.map((l, li) => ({ l, li }))).join('text')
    .attr('x', left - 4).attr('y', (d) => top + d.li * cell + cell / 2 + 3.5).attr('text-anchor', 'end').attr('font-size', 10)
    .attr('fill', 'currentColor').text((d) => `L${d.l}`);
  const cells = layers.flatMap((layer, li) => Array.from({ length: heads }, (_, head) => ({ layer, li, head })));
  const rects = svg.append('g').attr('class', 'cells').selectAll('rect').data(cells).join('rect')
    .attr('x', (d) => left + d.head * cell).attr('y', (d) => top + d.li * cell).attr('width', cell - 1).attr('height', cell - 1)
    .attr('data-layer', (d) => d.layer).attr('data-head', (d) => d.head).attr('data-index', (_d, i) => i);
  rects.append('title');
  if (!pickable) return svg.node() as SVGSVGElement;
  rects.attr('tabindex', 0).attr('role', 'button').style('cursor', 'pointer');
  const node = svg.node() as SVGSVGElement;
  node.addEventListener('click', (e) => {
    const c = cellOf(e.target);
    if (c) pickers.get(node)?.(c.layer, c.head);
  });
  node.addEventListener('keydown', (e) => {
    const c = cellOf(e.target);
    if (!c) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      pickers.get(node)?.(c.layer, c.head);
      return;
    }
    const move: Record<string, [number, number]> = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    const delta = move[e.key];
    if (!delta) return;
    const li = Math.min(layers.length - 1, Math.max(0, Math.floor(c.index / heads) + delta[0]));
    const head = Math.min(heads - 1, Math.max(0, (c.index % heads) + delta[1]));
    e.preventDefault();
    (node.querySelectorAll('.cells rect')[li * heads + head] as SVGRectElement).focus();
  });
  return node;
}

/**
 * Renders the matrix as an `<svg>` with row labels (L<layer>) and column labels (head index). Given the svg it drew
 * last time (`into`) for the same layers, heads, cell size and clickability, it updates that svg in place — colours,
 * outline, names and values only — so a box edit does not rebuild hundreds of cells (28 × 12 for Qwen2-VL-2B).
 */
export function renderHeadMatrix(data: HeadMatrixData, options: HeadMatrixOptions, into?: Element | null): SVGSVGElement {
  const { cell = HEAD_MATRIX_DEFAULTS.cell, picked, onPick, scale, label = 'R_a per layer and head' } = options;
  const { layers, heads, values } = data;
  if (values.length !== layers.length * heads) {
    throw new RangeError(`head matrix holds ${values.length} values, expected ${layers.length} layers × ${heads} heads`);
  }
  const shape = `${layers.join(',')}|${heads}|${cell}|${onPick ? 'pick' : 'view'}`;
  const node = into instanceof SVGSVGElement && into.getAttribute('data-shape') === shape ? into : buildHeadMatrix(layers, heads, cell, !!onPick, shape);
  if (onPick) pickers.set(node, onPick);
  const svg = select(node).attr('aria-label', label);
  const isPicked = (layer: number, head: number) => !!picked && picked.layer === layer && picked.head === head;
  const rects = svg.select('.cells').selectAll<SVGRectElement, unknown>('rect');
  rects.each(function (_d, i) {
    const layer = layers[Math.floor(i / heads)];
    const head = i % heads;
    const v = values[i];
    const text = `layer ${layer}, head ${head}: ${formatValue(v)}`;
    this.setAttribute('fill', cssColor(v, scale));
    if (isPicked(layer, head)) {
      this.setAttribute('stroke', HEAD_MATRIX_DEFAULTS.pickedStroke);
      this.setAttribute('stroke-width', '2');
    } else if (this.hasAttribute('stroke')) {
      this.removeAttribute('stroke');
      this.removeAttribute('stroke-width');
    }
    if (onPick) this.setAttribute('aria-label', text);
    (this.firstChild as SVGTitleElement).textContent = text;
  });
  return node;
}
