/**
 * @file The colour scale for R_a values (token strip, head matrices): diverging around 0.5 — the R_a of a token
 * whose attention on the region equals its attention on the image overall — so above / below the region's share
 * reads as red / blue. Built from the charts' diverging scale with its domain shifted.
 */
import { divergingScale, type ColorScale } from './charts/scale.ts';

/** A diverging scale centred on 0.5 spanning ±max |R_a − 0.5| of the values (at least ±0.001). */
export function raScale(values: readonly ArrayLike<number>[]): ColorScale {
  let m = 1e-3;
  for (const vs of values)
    for (let i = 0; i < vs.length; i++) if (Number.isFinite(vs[i])) m = Math.max(m, Math.abs(vs[i] - 0.5));
  const base = divergingScale([Float32Array.of(m)], 'R_a (0.5 = no preference for the region)');
  return { ...base, domain: [0.5 - m, 0.5 + m] };
}
