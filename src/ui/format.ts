/**
 * @file Fixed-decimal figures for the panels: every figure of one kind has the same number of decimals (no
 * scientific notation on screen), so values line up and compare at a glance.
 */

/** Decimals per kind of figure: rewards and shares in [-1, 1] need 3; a_q, v_q are mean probabilities (often < 0.01). */
export const DECIMALS = { reward: 3, share: 3, attention: 4 } as const;

/** `v` with `digits` decimals, "—" when missing or not finite. */
export function fixed(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

/** A signed difference with `digits` decimals ("+0.123", "−0.045"). */
export function signed(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const s = Math.abs(v).toFixed(digits);
  return v > 0 && Number(s) !== 0 ? `+${s}` : v < 0 && Number(s) !== 0 ? `−${s}` : s;
}
