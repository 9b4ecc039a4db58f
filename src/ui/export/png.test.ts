/**
 * @file PNG layout plan (Node): everything inside the canvas, stacked without overlap, the heatmap exactly the size
 * the painter draws, legend ticks on the bar at their values. (Painting and encoding: browser.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { gridFor, type ProcessorGeometry } from '../../core/geometry.ts';
import { heatmapLayout } from '../charts/heatmap.ts';
import { divergingScale, sharedScale } from '../charts/scale.ts';
import { pngLayout } from './png.ts';

const QWEN2: ProcessorGeometry = { patch_size: 14, merge_size: 2, min_pixels: 3136, max_pixels: 1003520 };
const scale = sharedScale([new Float32Array([0, 0.42])], 'raw');

describe('pngLayout', () => {
  it('stacks title, subtitle, heatmap and legend inside the canvas', () => {
    const grid = gridFor({ width: 640, height: 427 }, QWEN2);
    const L = pngLayout({ grid, scale, title: 't', subtitle: 's' });
    expect(L.heatmap).toEqual({ x: 16, y: 60, width: 640, height: 427 });
    expect([L.width, L.height]).toEqual([672, 60 + 427 + 20 + 6 + 12 + 18 + 16]);
    expect(L.title.y).toBeLessThan(L.subtitle!.y);
    expect(L.subtitle!.y).toBeLessThan(L.heatmap.y);
    expect(L.heatmap.y + L.heatmap.height).toBeLessThan(L.legend.caption.y);
    expect(L.legend.caption.y).toBeLessThan(L.legend.y);
    expect(L.legend.y + L.legend.barHeight + 15).toBeLessThanOrEqual(L.height - 16);
  });

  it('matches the heatmap painter size for any width and clamps the default width', () => {
    const tall = gridFor({ width: 100, height: 900 }, QWEN2);
    const L = pngLayout({ grid: tall, scale, title: 't' });
    expect(L.subtitle).toBeNull();
    expect(L.heatmap.width).toBe(320);
    expect(L.heatmap.height).toBe(heatmapLayout(tall, 320, 1).height);
    const wide = gridFor({ width: 4000, height: 1000 }, QWEN2);
    expect(pngLayout({ grid: wide, scale, title: 't' }).heatmap.width).toBe(1024);
    expect(pngLayout({ grid: wide, scale, title: 't', width: 500 }).heatmap).toMatchObject({ width: 500, height: 125 });
  });

  it('places ticks on the legend bar at their values', () => {
    const grid = gridFor({ width: 640, height: 427 }, QWEN2);
    const L = pngLayout({ grid, scale, title: 't' });
    expect(L.legend.width).toBe(320);
    expect(L.legend.ticks.map((t) => t.label)).toEqual(['0', '0.1', '0.2', '0.3', '0.4']);
    expect(L.legend.ticks[0].x).toBe(16);
    expect(L.legend.ticks[2].x).toBe(16 + Math.round((0.2 / Math.fround(0.42)) * 319));
    const d = pngLayout({ grid, scale: divergingScale([new Float32Array([-0.5, 0.5])]), title: 't' });
    expect(d.legend.ticks.find((t) => t.label === '0')!.x).toBe(16 + Math.round(0.5 * 319));
    expect(d.legend.caption.text).toBe('trained − base');
  });
});
