/**
 * @file Mounts a chart built by a `render(data, options) → Element` function (src/ui/charts): React only places
 * the element; the chart function draws it. A chart that cannot be drawn says why instead of breaking the page.
 */
import { useEffect, useRef } from 'react';

/**
 * Re-renders the chart whenever `render` changes (memoise it on the chart's inputs). `render` receives the element it
 * returned last time: a chart that can update it in place returns that same element, which is then left where it is.
 */
export function Chart({
  render,
  className,
  testId,
}: {
  render: (previous: Element | null) => Element | null;
  className?: string;
  testId?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = host.current?.firstElementChild ?? null;
    let el: Element | null;
    try {
      el = render(previous);
    } catch (e) {
      el = document.createElement('p');
      el.className = 'notice';
      el.textContent = `This chart could not be drawn: ${(e as Error).message}`;
    }
    if (el && el === previous && host.current?.childElementCount === 1) return;
    host.current?.replaceChildren(...(el ? [el] : []));
  }, [render]);
  return <div ref={host} className={className} data-testid={testId} />;
}
