/** @file What every benchmark shares: the median and the decode figures measured in Node and in Chromium alike. */

/** Median of a list of numbers (mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Decode tokens/s of a run of `tokens` tokens whose tokens after the first took `ms` (NaN below two tokens). */
export function decodeTps(tokens: number, ms: number): number {
  return tokens > 1 && ms > 0 ? ((tokens - 1) / ms) * 1000 : NaN;
}

/** Decode figures of one backend. */
export interface DecodeFigures {
  firstTokenColdMs: number;
  firstTokenWarmMs: number;
  decodeTpsCapture: number;
  decodeTpsNoCapture: number;
  /** Median share of generation time spent in the capture code itself (RunSummary.captureMs). */
  captureShare: number;
  peakRssMb: number;
}
