/**
 * @file Test support only (Node: reads files; never imported by app code). Trainer → TypeScript parity: loading the
 * fixtures written by the Python trainer (models/CONTRACT.md, "Fixtures") and comparing an output with an expected
 * object within a tolerance. Used by the core and CLI parity tests; a missing fixture file is an error, never a skip.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in src/core). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Parity tolerance: the trainer and the TypeScript core agree within 1e-6. */
export const PARITY_TOLERANCE = 1e-6;

/** One entry of fixtures/grid-cases.json. */
export interface GridFixture {
  width: number;
  height: number;
  processor: { patch_size: number; merge_size: number; min_pixels: number; max_pixels: number };
  resized?: { width: number; height: number };
  grid?: { rows: number; cols: number };
  error?: string;
}

/** One entry of fixtures/reward-cases.json. */
export interface RewardFixture {
  name: string;
  input: Record<string, unknown>;
  expected: Record<string, unknown>;
}

/** Path of a fixture file under fixtures/. */
export function fixturePath(name: string): string {
  return `${REPO_ROOT}fixtures/${name}`;
}

/**
 * Reads a fixture array; throws (loudly) when the file is missing, unreadable or empty.
 * @throws Error naming the file and how to produce it
 */
export function loadFixture<T>(name: string): T[] {
  const path = fixturePath(name);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: the trainer writes it (cd training && ../.venv/bin/python -m sayo_train fixtures)`,
    );
  }
  const data = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!Array.isArray(data) || data.length === 0) throw new Error(`${path}: expected a non-empty JSON array`);
  return data as T[];
}

/**
 * Differences between `actual` and every field of `expected` (numbers within `tol`, absolute; everything else
 * equal). Extra fields in `actual` are allowed.
 * @returns one line per difference, with its JSON path; empty when they agree
 */
export function diffWithin(expected: unknown, actual: unknown, tol = PARITY_TOLERANCE, path = '$'): string[] {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number' || !Number.isFinite(actual))
      return [`${path}: expected ${expected}, got ${String(actual)}`];
    return Math.abs(expected - actual) <= tol
      ? []
      : [`${path}: expected ${expected}, got ${actual} (|Δ| = ${Math.abs(expected - actual)})`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${typeof actual}`];
    if (actual.length !== expected.length) return [`${path}: expected ${expected.length} items, got ${actual.length}`];
    return expected.flatMap((e, i) => diffWithin(e, actual[i], tol, `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return [`${path}: expected an object, got ${String(actual)}`];
    const a = actual as Record<string, unknown>;
    return Object.entries(expected).flatMap(([k, e]) =>
      k in a ? diffWithin(e, a[k], tol, `${path}.${k}`) : [`${path}.${k}: missing`],
    );
  }
  return Object.is(expected, actual)
    ? []
    : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}
