/**
 * @file Small typed readers for validating untrusted JSON. Every reader takes the dotted path of the
 * value (e.g. `panels[0].steps[3].entropy`) and throws a `SessionError` naming it, so a hand-edited
 * or truncated session file produces a message that says exactly what is wrong and where.
 */

/** A session file (or stored session) that cannot be read; `field` is the dotted path of the culprit. */
export class SessionError extends Error {
  constructor(
    public readonly field: string,
    reason: string,
  ) {
    super(field ? `Session file, field "${field}": ${reason}` : `Session file: ${reason}`);
    this.name = 'SessionError';
  }
}

/** JSON-ish description of a value for error messages (short). */
function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string')
    return v.length > 40 ? `the string "${v.slice(0, 40)}…"` : `the string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Reads a plain object. */
export function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new SessionError(path, `expected an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

/** Reads an array. */
export function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new SessionError(path, `expected an array, got ${describe(v)}`);
  return v;
}

/** Reads a string. */
export function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new SessionError(path, `expected a string, got ${describe(v)}`);
  return v;
}

/** Reads a finite number within [min, max]. */
export function num(v: unknown, path: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new SessionError(path, `expected a finite number, got ${describe(v)}`);
  if (v < min || v > max) throw new SessionError(path, `${v} is outside [${min}, ${max}]`);
  return v;
}

/** Reads an integer ≥ min. */
export function int(v: unknown, path: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new SessionError(path, `expected an integer, got ${describe(v)}`);
  if (v < min) throw new SessionError(path, `${v} is below the minimum ${min}`);
  return v;
}

/** Reads one of a fixed set of strings. */
export function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new SessionError(
      path,
      `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(v)}`,
    );
  }
  return v as T;
}

/** Reads an optional value: `undefined` stays `undefined`, anything else goes through `read`. */
export function opt<T>(v: unknown, path: string, read: (v: unknown, path: string) => T): T | undefined {
  return v === undefined ? undefined : read(v, path);
}
