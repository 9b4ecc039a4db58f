/**
 * @file Mounts a chart built by a `render(data, options) → Element` function (src/ui/charts): React only places
 * the element; the chart function draws it. A chart that cannot be drawn says why instead of breaking the page.
 */
import { useEffect, useRef } from 'react';

/** Re-renders the chart whenever `render` changes (memoise it on the chart's inputs). */
export function Chart({ render, className, testId }: { render: () => Element | null; className?: string; testId?: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let el: Element | null;
    try {
      el = render();
    } catch (e) {
      el = document.createElement('p');
      el.className = 'notice';
      el.textContent = `This chart could not be drawn: ${(e as Error).message}`;
    }
    host.current?.replaceChildren(...(el ? [el] : []));
  }, [render]);
  return <div ref={host} className={className} data-testid={testId} />;
}
