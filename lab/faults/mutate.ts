/**
 * @file Structured mutation for fuzzing JSON inputs: every path of a valid document is a target, and a mutation
 * replaces the value there, deletes it, or wraps it; values come from a hostile pool (huge, negative, fractional and
 * non-finite numbers, wrong types, deep nesting, long strings, prototype keys) plus fast-check's `anything`.
 */
import fc from 'fast-check';

export type JsonPath = Array<string | number>;

/** Every path of a JSON value (objects and arrays, depth first; long arrays sampled at both ends). */
export function paths(value: unknown, prefix: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(prefix);
  if (Array.isArray(value)) {
    const idx = value.length <= 6 ? value.map((_, i) => i) : [0, 1, 2, value.length - 2, value.length - 1];
    for (const i of idx) paths(value[i], [...prefix, i], out);
  } else if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) paths((value as Record<string, unknown>)[k], [...prefix, k], out);
  }
  return out;
}

/** A mutation: where, what, how. */
export interface Mutation {
  at: number;
  op: 'set' | 'delete' | 'wrap';
  value: unknown;
}

/** Hostile values. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    '',
    ' ',
    'NaN',
    '1e999',
    '<|im_end|>',
    '__proto__',
    -1,
    0,
    0.5,
    -0.0,
    1e7,
    1e308,
    -1e308,
    2 ** 53,
    2 ** 31,
    100_000,
    1e6,
    [],
    {},
    [[]],
    { __proto__: { polluted: 1 } },
  ),
  fc.integer({ min: -1e9, max: 1e9 }),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.anything({ maxDepth: 2, maxKeys: 4 }),
  fc.nat({ max: 50 }).map((n) => 'x'.repeat(n * 1000)),
  fc.integer({ min: 1, max: 100 }).map((d) => JSON.parse('['.repeat(d) + ']'.repeat(d))),
);

/** A mutation over a document with `count` paths. */
export const mutation = (count: number): fc.Arbitrary<Mutation> =>
  fc.record({
    at: fc.nat({ max: count - 1 }),
    op: fc.constantFrom<'set' | 'delete' | 'wrap'>('set', 'set', 'set', 'delete', 'wrap'),
    value: hostileValue,
  });

/** A deep copy of `doc` with the mutation applied (the root can be replaced too). */
export function applyMutation(doc: unknown, all: JsonPath[], m: Mutation): unknown {
  const copy = structuredClone(doc);
  const p = all[m.at];
  if (p.length === 0) return m.op === 'wrap' ? [copy] : m.op === 'delete' ? undefined : m.value;
  let parent: any = copy;
  for (const k of p.slice(0, -1)) parent = parent[k];
  const key = p[p.length - 1];
  if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else parent[key] = m.op === 'wrap' ? [parent[key]] : m.value;
  return copy;
}

/** `count` mutated copies of `doc`, seeded. */
export function mutants(doc: unknown, count: number, seed: number): unknown[] {
  const all = paths(doc);
  return fc.sample(mutation(all.length), { seed, numRuns: count }).map((m) => applyMutation(doc, all, m));
}
