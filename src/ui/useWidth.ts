/**
 * @file The width a chart has: its host element's content width, followed with a ResizeObserver, so heatmaps use
 * the space their panel gives them (phone to wide screen) instead of a fixed size.
 */
import { useEffect, useState, type RefObject } from 'react';

/** The current content width of `ref`'s element in CSS pixels (`fallback` before the first measure). */
export function useWidth(ref: RefObject<HTMLElement | null>, fallback: number): number {
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => {
      const w = Math.floor(el.clientWidth);
      if (w > 0) setWidth(w);
    };
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return width;
}

/**
 * A heatmap's width: all of `available`, but not so wide that the image is taller than `maxHeight` (the reward
 * above it and the sparkline below stay near it), and at least `min`.
 */
export function fitWidth(
  available: number,
  image: { width: number; height: number },
  maxHeight: number,
  min = 160,
): number {
  const byHeight = (maxHeight * image.width) / Math.max(1, image.height);
  return Math.max(min, Math.floor(Math.min(available, byHeight)));
}
