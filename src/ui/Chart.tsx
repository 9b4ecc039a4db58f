/**
 * @file Mounts a chart built by a `render(data, options) → Element` function (src/ui/charts): React only places
 * the element; the chart function draws it.
 */
import { useEffect, useRef } from 'react';

/** Re-renders the chart whenever `render` changes (memoise it on the chart's inputs). */
export function Chart({ render, className, testId }: { render: () => Element | null; className?: string; testId?: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = render();
    host.current?.replaceChildren(...(el ? [el] : []));
  }, [render]);
  return <div ref={host} className={className} data-testid={testId} />;
}
