/**
 * @file Drawing what is on screen only: a value that follows its input while an element is near the viewport and,
 * while the element is away, keeps the last value it had there as long as the new one is only an update of it (say,
 * the same panels with other boxes), so what a section draws from it (canvases, SVG legends, matrices) is neither
 * recomputed nor redrawn off screen by such updates and catches up when the section scrolls near. Anything else (new
 * panels, a chart appearing) is followed at once, so the section's content exists wherever it is.
 */
import { useEffect, useRef, useState } from 'react';

/** How near the viewport (above and below, as a share of its height) an element counts as visible. */
export const NEAR_VIEWPORT = '50%';

/**
 * Returns a ref callback for the element to watch and `value` while that element is within {@link NEAR_VIEWPORT} of
 * the viewport (or before it is observed, or without IntersectionObserver); while it is farther away, the value it
 * had when last near, unless `isUpdate(kept, value)` says the new value is not just an update of that one.
 */
export function useWhileVisible<T>(
  value: T,
  isUpdate: (kept: T, value: T) => boolean,
): [(el: Element | null) => void, T] {
  const [el, setEl] = useState<Element | null>(null);
  const [near, setNear] = useState(true);
  useEffect(() => {
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => setNear(entries[entries.length - 1].isIntersecting), {
      rootMargin: `${NEAR_VIEWPORT} 0px`,
    });
    io.observe(el);
    return () => {
      io.disconnect();
      setNear(true);
    };
  }, [el]);
  const kept = useRef(value);
  if (near || !el || !isUpdate(kept.current, value)) kept.current = value;
  return [setEl, kept.current];
}
