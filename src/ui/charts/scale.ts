/**
 * @file Colour scales for attention maps: one sequential scale shared by every panel being compared (so equal
 * colours mean equal values), and a diverging scale centred on 0 for trained − base differences.
 * A scale is plain data (domain, scheme and a 256-entry RGB lookup table); `colorFor` is the single pure function
 * that turns a value into a colour, used by the canvas heatmap, the legend, the matrices and the PNG export.
 * Normalisation itself is the core's (`normalizeMap`); this module only decides the shared domain.
 */
import {
  interpolateCividis,
  interpolateInferno,
  interpolateMagma,
  interpolateRdBu,
  interpolateViridis,
  rgb,
  ticks as d3ticks,
} from 'd3';
import { normalizeMap, sharedMax, type NormMode } from '../../core/aggregate.ts';

/** Sequential colour schemes for attention (perceptually uniform). */
export type SequentialScheme = 'inferno' | 'viridis' | 'magma' | 'cividis';

/** A colour scale: values in `domain` map linearly onto the lookup table; values outside are clamped. */
export interface ColorScale {
  kind: 'sequential' | 'diverging';
  /** [min, max] of the values the scale spans (diverging: [-m, m]). */
  domain: [number, number];
  /** Normalisation the panels' maps go through before colouring (sequential scales). */
  mode: NormMode;
  /** For mode 'shared': the maximum shared by all panels, passed to `normalizeMap`. */
  sharedMax?: number;
  scheme: SequentialScheme | 'RdBu';
  /** 256 × RGB, index 0 = domain[0], 255 = domain[1]; shared between scales of a scheme, read-only. */
  lut: Uint8Array;
  /** Legend caption, e.g. "attention (share of image)". */
  label: string;
}

const SCHEMES: Record<SequentialScheme, (t: number) => string> = {
  inferno: interpolateInferno,
  viridis: interpolateViridis,
  magma: interpolateMagma,
  cividis: interpolateCividis,
};

const LABELS: Record<NormMode, string> = {
  raw: 'attention (probability)',
  image: 'attention (share of image)',
  shared: 'attention (÷ shared max)',
};

/** Lookup tables are built once per scheme and shared by every scale of that scheme (treat them as read-only). */
const LUTS = new Map<string, Uint8Array>();

/**
 * Builds (once) the 256-entry RGB table of an interpolator. A centred table gives entries 127 and 128 both the exact
 * middle colour, so 0 on a diverging scale (t = ½, index 127.5 → 128) is exactly neutral.
 */
function buildLut(key: string, interpolate: (t: number) => string, centred = false): Uint8Array {
  const hit = LUTS.get(key);
  if (hit) return hit;
  const lut = new Uint8Array(256 * 3);
  LUTS.set(key, lut);
  for (let i = 0; i < 256; i++) {
    const t = centred ? (i < 128 ? i / 254 : (i - 1) / 254) : i / 255;
    const c = rgb(interpolate(t));
    lut[i * 3] = Math.round(c.r);
    lut[i * 3 + 1] = Math.round(c.g);
    lut[i * 3 + 2] = Math.round(c.b);
  }
  return lut;
}

/**
 * One sequential colour scale for several panels' raw maps (e.g. base and trained head maps of the current token).
 * The domain is [0, the largest value any panel shows after normalisation], so both panels share it.
 * @param maps the panels' raw maps (before normalisation)
 * @param mode the normalisation each panel applies (`normalizeFor` applies it consistently)
 * @param scheme the colour scheme (default inferno)
 */
export function sharedScale(
  maps: readonly Float32Array[],
  mode: NormMode,
  scheme: SequentialScheme = 'inferno',
): ColorScale {
  let top: number;
  let shared: number | undefined;
  if (mode === 'shared') {
    shared = sharedMax(maps);
    top = 1;
  } else if (mode === 'raw') {
    top = sharedMax(maps);
  } else {
    top = maps.reduce((m, map) => Math.max(m, normalizeMap(map, 'image').max), 0);
  }
  return {
    kind: 'sequential',
    domain: [0, top > 0 ? top : 1],
    mode,
    ...(shared === undefined ? {} : { sharedMax: shared }),
    scheme,
    lut: buildLut(scheme, SCHEMES[scheme]),
    label: LABELS[mode],
  };
}

/** Applies the scale's normalisation to one panel's raw map (the values the heatmap should draw). */
export function normalizeFor(map: Float32Array, scale: ColorScale): Float32Array {
  if (scale.kind === 'diverging') return map;
  return normalizeMap(map, scale.mode, scale.sharedMax).values;
}

/** RdBu reversed: blue for negative, red for positive. */
function reversedRdBu(t: number): string {
  return interpolateRdBu(1 - t);
}

/**
 * A diverging scale centred on 0 (blue = negative, white = 0, red = positive) spanning ±max |value| of the maps,
 * for trained − base differences.
 */
export function divergingScale(maps: readonly Float32Array[], label = 'trained − base'): ColorScale {
  let m = 0;
  for (const map of maps) for (let k = 0; k < map.length; k++) m = Math.max(m, Math.abs(map[k]));
  if (!(m > 0) || !Number.isFinite(m)) m = 1;
  return {
    kind: 'diverging',
    domain: [-m, m],
    mode: 'raw',
    scheme: 'RdBu',
    lut: buildLut('RdBu-reversed', reversedRdBu, true),
    label,
  };
}

/** Position of a value in the scale's lookup table (0…255), clamped; NaN maps to 0. */
export function lutIndex(value: number, scale: ColorScale): number {
  const [lo, hi] = scale.domain;
  const t = (value - lo) / (hi - lo);
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return Math.round(t * 255);
}

/** The RGB colour (0…255 each) of a value on a scale. Pure and deterministic. */
export function colorFor(value: number, scale: ColorScale): [number, number, number] {
  const i = lutIndex(value, scale) * 3;
  return [scale.lut[i], scale.lut[i + 1], scale.lut[i + 2]];
}

/** The CSS colour (`#rrggbb`) of a value on a scale. */
export function cssColor(value: number, scale: ColorScale): string {
  const [r, g, b] = colorFor(value, scale);
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}

/** Tick values for the scale's legend (nice round numbers within the domain). */
export function scaleTicks(scale: ColorScale, count = 5): number[] {
  return d3ticks(scale.domain[0], scale.domain[1], count);
}

/** Formats a tick or value for display with up to 3 significant digits. */
export function formatValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 0.01 && a < 1000) return String(Number(v.toPrecision(3)));
  return v.toExponential(1);
}
