/**
 * @file PNG export of one panel (the one export module): title (+ subtitle), the image with its heatmap, covered
 * cells and boxes (drawn by the same painter as the screen), and the colour legend with ticks, composed on one
 * canvas. `pngLayout` is the pure layout plan (tested in Node); `exportPanelPng` paints it and encodes the PNG
 * (browser); `exportCurrentPng` exports a panel as it is on screen, at the image's own resolution (at least
 * {@link EXPORT_MIN_WIDTH} px wide) with text scaled to match.
 */
import type { Box, Grid } from '../../core/geometry.ts';
import type { Side } from '../../session/types.ts';
import { useLens } from '../../state/store.ts';
import { compareOf } from '../compare/useCompare.ts';
import { DECIMALS, fixed } from '../format.ts';
import { heatmapLayout, renderHeatmap } from '../charts/heatmap.ts';
import { colorFor, formatValue, scaleTicks, type ColorScale } from '../charts/scale.ts';

/** What goes into a panel PNG. */
export interface PanelPngInput {
  /** The original image; omitted → the heatmap is drawn on a neutral background. */
  image?: CanvasImageSource | null;
  grid: Grid;
  /** One value per cell, normalised for `scale` (as on screen). */
  values: Float32Array;
  boxes?: readonly Box[];
  coverage?: Float32Array;
  scale: ColorScale;
  /** E.g. `SAYO-mini — token 3 "red" — layer 7, head mean`. */
  title: string;
  /** E.g. `R_a 0.71 · r_v 0.42 · question: What colour is the cup?`. */
  subtitle?: string;
  /** Heat opacity (default 0.6). */
  opacity?: number;
  /** Width of the image area in pixels (default: the image width, clamped to 320…1024). */
  width?: number;
  /** Factor on fonts, margins and the legend (default 1: the sizes of a ~640 px export). */
  textScale?: number;
}

/** Where everything goes on the PNG canvas, in pixels. */
export interface PngLayout {
  width: number;
  height: number;
  title: { x: number; y: number; font: string };
  subtitle: { x: number; y: number; font: string } | null;
  heatmap: { x: number; y: number; width: number; height: number };
  legend: {
    x: number;
    y: number;
    width: number;
    barHeight: number;
    caption: { x: number; y: number; text: string; font: string };
    ticks: { x: number; label: string }[];
    tickFont: string;
  };
}

/** Export defaults. */
export const PNG_DEFAULTS = {
  pad: 16,
  minWidth: 320,
  maxWidth: 1024,
  legendMaxWidth: 320,
  barHeight: 12,
  background: '#ffffff',
  text: '#111827',
  muted: '#4b5563',
  titleFont: 'bold 16px sans-serif',
  subtitleFont: '12px sans-serif',
  tickFont: '11px sans-serif',
} as const;

/** The pure layout of a panel PNG. */
export function pngLayout(
  input: Pick<PanelPngInput, 'grid' | 'scale' | 'title' | 'subtitle' | 'width' | 'textScale'>,
): PngLayout {
  const k = input.textScale ?? 1;
  const px = (v: number) => Math.round(v * k);
  const font = (f: string) => f.replace(/(\d+)px/, (_, n: string) => `${px(Number(n))}px`);
  const D = {
    ...PNG_DEFAULTS,
    pad: px(PNG_DEFAULTS.pad),
    legendMaxWidth: px(PNG_DEFAULTS.legendMaxWidth),
    barHeight: px(PNG_DEFAULTS.barHeight),
  };
  const imageWidth = input.width ?? Math.min(D.maxWidth, Math.max(D.minWidth, input.grid.image.width));
  const heat = heatmapLayout(input.grid, imageWidth, 1);
  const titleY = D.pad + px(16);
  const subtitle = input.subtitle ? { x: D.pad, y: titleY + px(18), font: font(D.subtitleFont) } : null;
  const heatY = (subtitle ? subtitle.y : titleY) + px(10);
  const legendWidth = Math.min(D.legendMaxWidth, heat.width);
  const captionY = heatY + heat.height + px(20);
  const barY = captionY + px(6);
  const lo = input.scale.domain[0];
  const hi = input.scale.domain[1];
  const ticks = scaleTicks(input.scale).map((v) => ({
    x: D.pad + Math.round(((v - lo) / (hi - lo)) * (legendWidth - 1)),
    label: formatValue(v),
  }));
  return {
    width: heat.width + 2 * D.pad,
    height: barY + D.barHeight + px(18) + D.pad,
    title: { x: D.pad, y: titleY, font: font(D.titleFont) },
    subtitle,
    heatmap: { x: D.pad, y: heatY, width: heat.width, height: heat.height },
    legend: {
      x: D.pad,
      y: barY,
      width: legendWidth,
      barHeight: D.barHeight,
      caption: { x: D.pad, y: captionY, text: input.scale.label, font: font(D.subtitleFont) },
      ticks,
      tickFont: font(D.tickFont),
    },
  };
}

/** Paints the legend bar column by column through `colorFor`, so it matches the heatmap exactly. */
function paintLegend(ctx: CanvasRenderingContext2D, layout: PngLayout['legend'], scale: ColorScale): void {
  const [lo, hi] = scale.domain;
  for (let i = 0; i < layout.width; i++) {
    const [r, g, b] = colorFor(lo + ((hi - lo) * i) / Math.max(1, layout.width - 1), scale);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(layout.x + i, layout.y, 1, layout.barHeight);
  }
  ctx.fillStyle = PNG_DEFAULTS.muted;
  ctx.font = layout.caption.font;
  ctx.textAlign = 'left';
  ctx.fillText(layout.caption.text, layout.caption.x, layout.caption.y);
  ctx.font = layout.tickFont;
  ctx.textAlign = 'center';
  for (const t of layout.ticks) {
    const k = layout.barHeight / PNG_DEFAULTS.barHeight;
    ctx.fillRect(t.x, layout.y + layout.barHeight, Math.max(1, Math.round(k)), Math.round(4 * k));
    ctx.fillText(t.label, t.x, layout.y + layout.barHeight + Math.round(15 * k));
  }
}

/**
 * Paints the panel onto a new canvas (returned; useful for previews and tests).
 * @throws Error when the browser gives no 2-D canvas context
 */
export function renderPanelCanvas(input: PanelPngInput): HTMLCanvasElement {
  const layout = pngLayout(input);
  const canvas = document.createElement('canvas');
  canvas.width = layout.width;
  canvas.height = layout.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2-D canvas context; the PNG cannot be drawn');
  ctx.fillStyle = PNG_DEFAULTS.background;
  ctx.fillRect(0, 0, layout.width, layout.height);
  ctx.fillStyle = PNG_DEFAULTS.text;
  ctx.font = layout.title.font;
  ctx.textBaseline = 'alphabetic';
  ctx.fillText(input.title, layout.title.x, layout.title.y, layout.width - 2 * PNG_DEFAULTS.pad);
  if (layout.subtitle && input.subtitle) {
    ctx.fillStyle = PNG_DEFAULTS.muted;
    ctx.font = layout.subtitle.font;
    ctx.fillText(input.subtitle, layout.subtitle.x, layout.subtitle.y, layout.width - 2 * PNG_DEFAULTS.pad);
  }
  const heat = renderHeatmap(
    { image: input.image, grid: input.grid, values: input.values, boxes: input.boxes, coverage: input.coverage },
    { scale: input.scale, width: layout.heatmap.width, opacity: input.opacity, pixelRatio: 1 },
  );
  ctx.drawImage(heat, layout.heatmap.x, layout.heatmap.y);
  paintLegend(ctx, layout.legend, input.scale);
  return canvas;
}

/**
 * The panel as a PNG Blob: image + heatmap + boxes + legend + title on one canvas.
 * @throws Error when the canvas cannot be drawn or encoded
 */
export async function exportPanelPng(input: PanelPngInput): Promise<Blob> {
  const canvas = renderPanelCanvas(input);
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error('the browser could not encode the PNG'))),
      'image/png',
    );
  });
}

/** Narrowest image area of an on-screen export, in pixels (smaller images are scaled up to it). */
export const EXPORT_MIN_WIDTH = 1024;
/** Widest image area of an export (a huge image is exported at this width). */
export const EXPORT_MAX_WIDTH = 4096;

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the image could not be decoded for the PNG'));
    img.src = src;
  });
}

/** The PNG of `side`'s panel as on screen (same map, shared scale, regions, opacity), or null when it has no heatmap. */
export async function exportCurrentPng(side: Side): Promise<Blob | null> {
  const s = useLens.getState();
  const { panels, scale } = compareOf(s);
  const d = panels[side];
  if (!d || !d.values || !scale) {
    s.setError('export', `The ${side} panel has no heatmap to export yet.`);
    return null;
  }
  const t = d.token;
  const tokenText =
    typeof t === 'number'
      ? `token #${t} “${d.panel.steps[t]?.text ?? ''}”`
      : t === 'all'
        ? 'all tokens'
        : 'top-30 % entropy tokens';
  const head = s.view.head.kind === 'head' ? `head ${s.view.head.head}` : `head ${s.view.head.kind}`;
  const r = d.reward;
  const image = s.image ? await loadImage(s.image.dataUrl) : null;
  const width = Math.min(EXPORT_MAX_WIDTH, Math.max(EXPORT_MIN_WIDTH, d.grid.image.width));
  s.clearError('export');
  return exportPanelPng({
    image,
    grid: d.grid,
    values: d.values,
    boxes: s.boxes,
    coverage: d.coverage ?? undefined,
    scale,
    opacity: s.view.opacity,
    width,
    textScale: width / 640,
    title: `${d.panel.modelName} — ${tokenText} — layer ${d.layer}, ${head}`,
    subtitle: `${r ? `r_v ${fixed(r.r_v, DECIMALS.reward)} · a_q ${fixed(r.a_q, DECIMALS.attention)} · v_q ${fixed(r.v_q, DECIMALS.attention)} · ` : ''}question: ${s.question}`,
  });
}
