/**
 * @file The TypeScript job spec reader: every shipped training/jobs/*.yaml validates; bad specs are refused with the key
 * path and the reason; and on the same bad files the trainer (Python, same schema) prints the same lines.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { JobSpecError, parseJobSpec, readJobSpecFile, validateJobSpec } from './jobspec.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const JOBS = join(ROOT, 'training/jobs');
const SHIPPED = readdirSync(JOBS)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const BASE_FILE = join(JOBS, 'sayo-qwen3-vl-8b.yaml');

function errorsOf(text: string, file = 'job.yaml'): string[] {
  try {
    parseJobSpec(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(JobSpecError);
    return (err as JobSpecError).errors;
  }
  throw new Error('expected the spec to be refused');
}

/** The 8B spec with one edit applied, as YAML text. */
function variant(edit: (doc: Record<string, any>) => void): string {
  const doc = parse(readFileSync(BASE_FILE, 'utf8')) as Record<string, any>;
  edit(doc);
  return stringify(doc);
}

const BAD: Array<[string, (d: Record<string, any>) => void]> = [
  ['unknown key', (d) => (d.grpo.stepz = 3)],
  ['wrong type', (d) => (d.model.text.num_heads = 'four')],
  ['range in a list item', (d) => (d.rewards[0].params.top_ratio = 1.5)],
  ['enum', (d) => (d.model.family = 'llava')],
  ['missing key', (d) => delete d.grpo.lr],
  ['stage needs its section', (d) => delete d.export],
  ['steps or epochs', (d) => delete d.grpo.epochs],
  ['anyOf value', (d) => (d.model.lora.target_modules = 'some')],
  ['several at once', (d) => Object.assign(d.run, { seed: -1, colour: 'red', stages: ['data', 'data'] })],
];

describe('job spec reader', () => {
  it.each(SHIPPED)('validates the shipped spec %s', (name) => {
    const spec = readJobSpecFile(join(JOBS, name));
    expect(spec.spec_version).toBe(1);
    expect(spec.run.stages.length).toBeGreaterThan(0);
  });

  it('names the key path of an unknown key and of a wrong type', () => {
    expect(
      errorsOf(
        variant((d) => (d.grpo.stepz = 3)),
        'sayo-mini.yaml',
      ),
    ).toEqual(['sayo-mini.yaml: grpo.stepz: unknown key']);
    expect(errorsOf(variant((d) => (d.model.text.num_heads = 'four')))).toEqual([
      "job.yaml: model.text.num_heads: expected integer, got 'four'",
    ]);
    expect(errorsOf(variant((d) => (d.rewards[1].params.flags = 's')))).toEqual([
      'job.yaml: rewards[1].params.flags: unknown key',
    ]);
  });

  it('reports a stage without its section and grpo without steps or epochs', () => {
    expect(errorsOf(variant((d) => delete d.export))).toEqual([
      'job.yaml: export: missing required key (needed by a stage in run.stages)',
    ]);
    expect(errorsOf(variant((d) => delete d.grpo.epochs))).toEqual([
      'job.yaml: grpo: needs one of the keys steps, epochs',
    ]);
  });

  it('refuses broken YAML, duplicate keys and a non-mapping with a location', () => {
    expect(errorsOf('run: [1, 2\n')[0]).toMatch(/^job\.yaml: line \d+: invalid YAML: /);
    expect(errorsOf('spec_version: 1\nspec_version: 1\n')[0]).toMatch(/^job\.yaml: line 2: invalid YAML: /);
    expect(validateJobSpec([1])).toEqual([{ path: '(root)', reason: 'expected a mapping of keys, got [1]' }]);
    expect(errorsOf('')).toEqual(['job.yaml: (root): expected a mapping of keys, got null']);
    expect(() => readJobSpecFile(join(JOBS, 'nope.yaml'))).toThrow(/nope\.yaml: \(file\): cannot read: ENOENT/);
  });

  it('prints the same lines as the Python trainer for the same bad specs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobspec-'));
    const files = BAD.map(([, edit], i) => {
      const file = join(dir, `bad-${i}.yaml`);
      writeFileSync(file, variant(edit));
      return file;
    });
    const script = [
      'import json, sys',
      'from sayo_train.spec import load_spec, SpecError',
      'out = []',
      'for f in sys.argv[1:]:',
      '    try:',
      '        load_spec(f); out.append([])',
      '    except SpecError as e:',
      '        out.append(e.errors)',
      'print(json.dumps(out))',
    ].join('\n');
    const python = JSON.parse(
      execFileSync(join(ROOT, '.venv/bin/python'), ['-c', script, ...files], {
        cwd: join(ROOT, 'training'),
        encoding: 'utf8',
      }),
    ) as string[][];
    files.forEach((file, i) => {
      const ts = errorsOf(readFileSync(file, 'utf8'), file);
      expect(ts.length, BAD[i][0]).toBeGreaterThan(0);
      expect(ts, BAD[i][0]).toEqual(python[i]);
    });
  });
});

describe('job spec cases shared with the trainer (fixtures/jobspec-cases.json)', () => {
  const shared = JSON.parse(readFileSync(join(ROOT, 'fixtures/jobspec-cases.json'), 'utf8')) as {
    base: string;
    cases: Array<{ name: string; text?: string; replace?: [string, string]; errors: string[] }>;
  };
  const base = readFileSync(join(ROOT, shared.base), 'utf8');
  it.each(shared.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const text = c.text ?? (c.replace ? base.replace(c.replace[0], c.replace[1]) : base);
    if (c.replace) expect(text, `${c.replace[0]} is in ${shared.base}`).not.toBe(base);
    const t0 = performance.now();
    let errors: string[] = [];
    try {
      parseJobSpec(text, 'job.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(JobSpecError);
      errors = (err as JobSpecError).errors;
    }
    expect(errors).toEqual(c.errors);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
