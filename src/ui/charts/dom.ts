/**
 * @file DOM helpers the charts share for drawing into an element they drew before: the SVG namespace, an attribute
 * set only when it changes (an update in place leaves unchanged parts untouched), and a chart's root `<svg>`.
 */
export const SVG_NS = 'http://www.w3.org/2000/svg';

/** Sets an attribute unless it already has that value. */
export function setAttr(el: Element, name: string, value: string | number): void {
  const v = String(value);
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

/**
 * The root `<svg>` of a chart: `into` when the chart is updated in place (only its label may change), else a new one
 * with its size, view box, role, label and class.
 */
export function svgRoot(
  into: SVGSVGElement | null,
  size: { width: number; height: number },
  label: string,
  className: string,
): SVGSVGElement {
  if (into) {
    setAttr(into, 'aria-label', label);
    return into;
  }
  const node = document.createElementNS(SVG_NS, 'svg') as SVGSVGElement;
  for (const [k, v] of Object.entries({
    width: size.width,
    height: size.height,
    viewBox: `0 0 ${size.width} ${size.height}`,
    role: 'img',
    'aria-label': label,
    class: className,
  })) {
    node.setAttribute(k, String(v));
  }
  return node;
}
