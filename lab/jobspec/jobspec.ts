/**
 * @file Job spec reader for TypeScript: parses a training/jobs/*.yaml with `yaml` (YAML 1.2, duplicate keys refused) and
 * validates it with ajv against training/schema/job.schema.json — the one schema the Python trainer
 * (training/sayo_train/spec.py) validates against too. Problems read like the trainer's: `<file>: <key.path>: <reason>`.
 * Only structure is checked here; the trainer adds semantic checks (shapes, files) on top. Both readers refuse the same
 * things before the schema (aliases, non-finite numbers, nesting deeper than MAX_SPEC_DEPTH) and after it (numbers
 * above SPEC_LIMITS), with the same messages: fixtures/jobspec-cases.json holds cases both test suites run.
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import { isAlias, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { MAX_SPEC_DEPTH, SPEC_LIMITS } from '../../src/core/limits.ts';
import schema from '../../training/schema/job.schema.json';

/** The pipeline stages a spec can list, in their required order. */
export type Stage = 'data' | 'sft' | 'grpo' | 'export' | 'report';

/** A schema-valid job spec. Sections other than `run` are kept as parsed (see the schema for their keys). */
export interface JobSpecDoc {
  spec_version: 1;
  run: { name: string; seed: number; output_dir: string; stages: Stage[]; threads?: number; resume?: boolean };
  model: Record<string, unknown>;
  data: Record<string, unknown>;
  [section: string]: unknown;
}

/** One problem: where (`rewards[1].params.top_ratio`, `line 3` for YAML syntax, `(root)`) and why. */
export interface JobSpecIssue {
  path: string;
  reason: string;
}

/** Thrown for an invalid spec; `errors` holds one `<file>: <key.path>: <reason>` line per problem. */
export class JobSpecError extends Error {
  readonly errors: string[];
  constructor(errors: string[]) {
    super(errors.join('\n'));
    this.name = 'JobSpecError';
    this.errors = errors;
  }
}

const ajv = new Ajv({ allErrors: true, verbose: true, strictTypes: false, strictRequired: false });
const validate = ajv.compile(schema);
const BOUNDS: Record<string, string> = { minimum: '>=', maximum: '<=', exclusiveMinimum: '>', exclusiveMaximum: '<' };

/** A value as messages quote it (as the trainer does): strings in single quotes, the rest as JSON, long values cut. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

function keyPath(parts: Array<string | number>): string {
  let out = '';
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(root)';
}

function pathParts(instancePath: string): Array<string | number> {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describe(s: Record<string, unknown>): string {
  if ('const' in s) return show(s.const);
  if (Array.isArray(s.enum)) return `one of ${s.enum.map(show).join(', ')}`;
  if (s.type === 'array') return 'a list';
  return typeof s.type === 'string' ? s.type : 'a valid value';
}

function issue(e: ErrorObject): JobSpecIssue {
  const parts = pathParts(e.instancePath);
  const at = keyPath(parts);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: keyPath([...parts, String(p.additionalProperty)]), reason: 'unknown key' };
    case 'required': {
      const why = e.schemaPath.includes('/then/') ? ' (needed by a stage in run.stages)' : '';
      return { path: keyPath([...parts, String(p.missingProperty)]), reason: `missing required key${why}` };
    }
    case 'type':
      return { path: at, reason: `expected ${String(p.type)}, got ${show(e.data)}` };
    case 'enum':
    case 'const':
      return {
        path: at,
        reason: `expected ${describe(e.parentSchema as Record<string, unknown>)}, got ${show(e.data)}`,
      };
    case 'anyOf': {
      const branches = e.schema as Array<Record<string, unknown>>;
      if (branches.every((b) => Object.keys(b).length === 1 && Array.isArray(b.required))) {
        return {
          path: at,
          reason: `needs one of the keys ${branches.map((b) => (b.required as string[])[0]).join(', ')}`,
        };
      }
      return { path: at, reason: `expected ${branches.map(describe).join(' or ')}, got ${show(e.data)}` };
    }
    case 'minItems':
    case 'maxItems':
      return {
        path: at,
        reason: `expected ${e.keyword === 'minItems' ? 'at least' : 'at most'} ${String(p.limit)} items, got ${(e.data as unknown[]).length}`,
      };
    case 'uniqueItems':
      return { path: at, reason: 'items must be unique' };
    case 'minLength':
      return { path: at, reason: 'must not be empty' };
    case 'pattern':
      return { path: at, reason: `must match ${String(p.pattern)}, got ${show(e.data)}` };
    default:
      if (e.keyword in BOUNDS)
        return { path: at, reason: `must be ${BOUNDS[e.keyword]} ${String(p.limit)}, got ${show(e.data)}` };
      return { path: at, reason: e.message ?? e.keyword };
  }
}

/** Schema problems of an already-parsed spec, sorted by key path; empty when valid. */
export function validateJobSpec(doc: unknown): JobSpecIssue[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return [{ path: '(root)', reason: `expected a mapping of keys, got ${show(doc)}` }];
  }
  if (validate(doc)) return [];
  const errors = validate.errors ?? [];
  // anyOf reports its failed branches as well, and if/then an extra "must match then": keep the one readable error.
  const anyOf = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const kept = errors.filter((e) => e.keyword !== 'if' && !anyOf.some((prefix) => e.schemaPath.startsWith(prefix)));
  const seen = new Map<string, JobSpecIssue>();
  for (const it of kept.map(issue)) seen.set(`${it.path}\u0000${it.reason}`, it);
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, it]) => it);
}

/** The same words as the trainer's reader (spec_validate.ALIAS_PROBLEM). */
const ALIAS_PROBLEM = 'aliases (*name) are not accepted in job specs; write the value out';

/** The first alias of a parsed document (its start offset), if any. */
function firstAlias(doc: Document): number | null {
  let at: number | null = null;
  visit(doc, {
    Alias(_key, node) {
      if (isAlias(node)) at = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return at;
}

/** Non-finite numbers and nesting beyond MAX_SPEC_DEPTH, as the trainer's `structure_errors` reports them. */
export function structureIssues(value: unknown): JobSpecIssue[] {
  const out: JobSpecIssue[] = [];
  const stack: Array<[unknown, Array<string | number>]> = [[value, []]];
  while (stack.length > 0) {
    const [v, parts] = stack.pop()!;
    if (parts.length > MAX_SPEC_DEPTH)
      return [{ path: '(root)', reason: `nested deeper than ${MAX_SPEC_DEPTH} levels` }];
    if (typeof v === 'number' && !Number.isFinite(v)) {
      out.push({
        path: keyPath(parts),
        reason: `${Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf'} is not a finite number`,
      });
    } else if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, [...parts, i]]));
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) stack.push([x, [...parts, k]]);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Numbers above SPEC_LIMITS (core/limits.ts; the trainer applies the same table). */
export function limitIssues(value: unknown): JobSpecIssue[] {
  const out: JobSpecIssue[] = [];
  for (const [key, limit] of Object.entries(SPEC_LIMITS)) {
    let v: unknown = value;
    for (const part of key.split('.'))
      v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
    if (typeof v === 'number' && v > limit)
      out.push({ path: key, reason: `${JSON.stringify(v)} is above the limit ${limit} (what can run here)` });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Parse and validate spec text; `file` labels the messages. Throws JobSpecError listing every problem. */
export function parseJobSpec(text: string, file: string): JobSpecDoc {
  const lines = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  } catch (e) {
    if (e instanceof RangeError)
      throw new JobSpecError([`${file}: (root): nested deeper than ${MAX_SPEC_DEPTH} levels`]);
    throw e;
  }
  if (doc.errors.some((e) => /Maximum call stack/.test(e.message))) {
    throw new JobSpecError([`${file}: (root): nested deeper than ${MAX_SPEC_DEPTH} levels`]);
  }
  if (doc.errors.length > 0) {
    throw new JobSpecError(
      doc.errors.map((e) => `${file}: line ${lines.linePos(e.pos[0]).line}: invalid YAML: ${e.message.split('\n')[0]}`),
    );
  }
  const alias = firstAlias(doc);
  if (alias !== null)
    throw new JobSpecError([`${file}: line ${lines.linePos(alias).line}: invalid YAML: ${ALIAS_PROBLEM}`]);
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (e) {
    if (e instanceof RangeError)
      throw new JobSpecError([`${file}: (root): nested deeper than ${MAX_SPEC_DEPTH} levels`]);
    throw e;
  }
  const structure = structureIssues(value);
  if (structure.length > 0) throw new JobSpecError(structure.map((i) => `${file}: ${i.path}: ${i.reason}`));
  const issues = validateJobSpec(value);
  const found = issues.length > 0 ? issues : limitIssues(value);
  if (found.length > 0) throw new JobSpecError(found.map((i) => `${file}: ${i.path}: ${i.reason}`));
  return value as JobSpecDoc;
}

/** Read, parse and validate a spec file (Node). Throws JobSpecError, including for an unreadable file. */
export function readJobSpecFile(file: string): JobSpecDoc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new JobSpecError([`${file}: (file): cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseJobSpec(text, file);
}
