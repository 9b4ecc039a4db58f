/**
 * @file Drawing what is on screen only: a value that follows its input while an element is near the viewport and
 * keeps the last value it had there while the element is away, so what a section draws from it (canvases, SVG
 * legends, matrices) is neither recomputed nor redrawn off screen and catches up when the section scrolls near.
 */
import { useEffect, useRef, useState } from 'react';

/** How near the viewport (above and below, as a share of its height) an element counts as visible. */
export const NEAR_VIEWPORT = '50%';

/**
 * Returns a ref callback for the element to watch and `value` while that element is within {@link NEAR_VIEWPORT} of
 * the viewport (or before it is observed, or without IntersectionObserver); while it is farther away, the value it
 * had when last near.
 */
export function useWhileVisible<T>(value: T): [(el: Element | null) => void, T] {
  const [el, setEl] = useState<Element | null>(null);
  const [near, setNear] = useState(true);
  useEffect(() => {
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => setNear(entries[entries.length - 1].isIntersecting), { rootMargin: `${NEAR_VIEWPORT} 0px` });
    io.observe(el);
    return () => {
      io.disconnect();
      setNear(true);
    };
  }, [el]);
  const kept = useRef(value);
  if (near || !el) kept.current = value;
  return [setEl, kept.current];
}
