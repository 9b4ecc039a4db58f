/**
 * @file The fuzzed groups of the fault suite (pure, in-process, seeded and bounded): the `sayo reward` input, the
 * session format, model configs, `--boxes` specs and CSV cells. Each case is classified by tally.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { CaseError, runCaseText } from '../../src/core/case.ts';
import { CONFIG_LIMITS, checkConfigPlausible, LimitError } from '../../src/core/limits.ts';
import { parseBoxes } from '../../src/cli/commands/ask.ts';
import { toCsv } from '../../src/cli/lib/csv.ts';
import { CliError } from '../../src/cli/lib/errors.ts';
import { makeSession } from '../testutils/session.ts';
import { solidBmpDataUrl } from '../../src/session/image-header.ts';
import { SessionError, parseSession, serializeSession } from '../../src/session/serialize.ts';
import { mutants } from './mutate.ts';
import { classify, type CaseKind, type Tally } from './tally.ts';

/** One case: name, the call, the error types that count as clear, the time limit, the check of an accepted value. */
export interface FaultCase {
  name: string;
  run: () => unknown;
  clear: Array<new (...args: any[]) => Error>;
  limitMs: number;
  check?: (value: unknown) => string | null;
}

/** Runs cases into the tally; returns the ones that failed. */
export async function runCases(t: Tally, group: string, cases: FaultCase[], kind: CaseKind = 'e2e'): Promise<string[]> {
  const bad: string[] = [];
  for (const c of cases) {
    const r = await classify(c.run, c.clear, c.limitMs, c.check);
    t.record(group, c.name, r.outcome, r.detail, kind);
    if (r.outcome !== 'accepted' && r.outcome !== 'clear') bad.push(`${c.name}: ${r.outcome} (${r.detail})`);
  }
  return bad;
}

/** True when every number in the value is finite. */
function allFinite(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(allFinite);
  if (v && typeof v === 'object') return Object.values(v).every(allFinite);
  return true;
}

/** A small valid reward case: 56×56 image, 2×2 grid, 2 tokens, 2 heads. */
export const SMALL_CASE = {
  image: { width: 56, height: 56 },
  processor: { patch_size: 14, merge_size: 2, min_pixels: 3136, max_pixels: 12544 },
  boxes: [[0, 0, 28, 28]],
  attention: [
    [
      [0.4, 0.1, 0.1, 0.1],
      [0.25, 0.25, 0.25, 0.25],
    ],
    [
      [0.1, 0.5, 0.1, 0.1],
      [0.3, 0.2, 0.2, 0.1],
    ],
  ],
  entropy: [1.2, 0.4],
};

/** `sayo reward` input: structured mutations and cut texts. */
export function rewardCases(runs: number, seed: number): FaultCase[] {
  const text = JSON.stringify(SMALL_CASE);
  const cut = fc.sample(fc.nat({ max: text.length - 1 }), { seed, numRuns: 20 }).map((n) => text.slice(0, n));
  return [
    ...mutants(SMALL_CASE, runs, seed)
      .map((m) => JSON.stringify(m) ?? 'undefined')
      .concat(cut, ['', 'null', '\uFEFF' + text, text.replace('56', '1e400')]),
  ]
    .map((input, i): FaultCase => ({
      name: `reward #${i}`,
      run: () => runCaseText(input.replace(/^\uFEFF/, '')),
      clear: [CaseError],
      limitMs: 2000,
      check: (out) => (allFinite(out) ? null : 'non-finite number in the output'),
    }))
    .concat({
      name: 'reward: a 3571428×3571428 grid',
      run: () =>
        runCaseText(
          JSON.stringify({
            ...SMALL_CASE,
            image: { width: 1e8, height: 1e8 },
            processor: { ...SMALL_CASE.processor, max_pixels: 1e16 },
          }),
        ),
      clear: [CaseError],
      limitMs: 2000,
      check: () => 'accepted a grid beyond the limit',
    });
}

/** Session files: structured mutations, cut texts and the crafted files that froze a tab. */
export function sessionCases(runs: number, seed: number): FaultCase[] {
  const raw = JSON.parse(serializeSession(makeSession({ tokens: 3 })));
  const text = JSON.stringify(raw);
  const crafted = (edit: (r: any) => void) => {
    const r = structuredClone(raw);
    edit(r);
    return JSON.stringify(r);
  };
  const empty = (heads: number) => (r: any) => {
    for (const p of r.panels)
      for (const s of p.steps) Object.assign(s, { heads, attention: '', imageShare: '', rowSum: '' });
  };
  // The crafted files must be refused: accepting one is `wrong`.
  const refuse = [
    crafted(empty(100_000)),
    crafted(empty(1e6)),
    crafted((r) => (r.boxes = Array.from({ length: 100_000 }, () => [1, 2, 3, 4]))),
    crafted((r) => (r.panels[0].prompt.grid = { rows: 1e4, cols: 1e4 })),
    crafted((r) => (r.image.dataUrl = 'data:image/png;base64,iVBORw0KGgo=')),
    crafted((r) => (r.view.layer = 99)),
    crafted((r) => (r.image.dataUrl = solidBmpDataUrl(64, 48))),
  ];
  const refused = refuse.map((input, i): FaultCase => ({
    name: `crafted session #${i}`,
    run: () => parseSession(input),
    clear: [SessionError],
    limitMs: 1000,
    check: () => 'accepted a session that breaks the limits or itself',
  }));
  const inputs = [
    ...mutants(raw, runs, seed).map((m) => JSON.stringify(m) ?? ''),
    ...fc.sample(fc.nat({ max: text.length - 1 }), { seed, numRuns: 15 }).map((n) => text.slice(0, n)),
    '\uFEFF' + text,
  ];
  return refused.concat(
    inputs.map((input, i): FaultCase => ({
      name: `session #${i}`,
      run: () => parseSession(input),
      clear: [SessionError],
      limitMs: 1000,
      // What is accepted must survive a round trip unchanged (it is what IndexedDB keeps).
      check: (s) => {
        const again = serializeSession(parseSession(serializeSession(s as ReturnType<typeof parseSession>)));
        return again === serializeSession(s as ReturnType<typeof parseSession>)
          ? null
          : 'accepted session does not round-trip';
      },
    })),
  );
}

/** Model configs (lightly): mutations of SAYO-mini's config.json. */
export function configCases(root: string, runs: number, seed: number): FaultCase[] {
  const config = JSON.parse(fs.readFileSync(path.join(root, 'models/sayo-mini/config.json'), 'utf8'));
  const within = (c: any): string | null => {
    for (const part of [c, c?.text_config, c?.vision_config]) {
      if (!part || typeof part !== 'object') continue;
      for (const [k, max] of Object.entries(CONFIG_LIMITS)) {
        const v = part[k];
        if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= 1 && v <= max))
          return `accepted ${k} = ${JSON.stringify(v)}`;
      }
    }
    return null;
  };
  // Each implausible field at the top level and where the config keeps the decoder's fields (text_config for
  // Qwen2.5-VL / Qwen3-VL, the top level for Qwen2-VL).
  const bad: Array<Record<string, number>> = [
    { num_hidden_layers: 1e7 },
    { vocab_size: -1 },
    { num_key_value_heads: 3 },
  ];
  const inText = (edit: Record<string, number>) =>
    config.text_config ? { ...config, text_config: { ...config.text_config, ...edit } } : { ...config, ...edit };
  const refused = [...bad.map((edit) => ({ ...config, ...edit })), ...bad.map(inText)].map((c, i): FaultCase => ({
    name: `crafted config #${i}`,
    run: () => checkConfigPlausible(c),
    clear: [LimitError],
    limitMs: 200,
    check: () => 'accepted an implausible config',
  }));
  return refused.concat(
    mutants(config, runs, seed).map((c, i): FaultCase => ({
      name: `config #${i}`,
      run: () => (checkConfigPlausible(c), c),
      clear: [LimitError],
      limitMs: 200,
      check: within,
    })),
  );
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** `--boxes` specs: random text, near-misses, and the coercions that used to pass. */
export function boxCases(runs: number, seed: number): FaultCase[] {
  const near = fc
    .array(
      fc.oneof(
        fc.constantFrom('', ' ', '0x10', '1e400', 'Infinity', '-0', '+5', '.5', '5.', '1_0', '١٢'),
        fc.integer({ min: -50, max: 500 }).map(String),
      ),
      { minLength: 3, maxLength: 5 },
    )
    .map((a) => a.join(','));
  const specs = [
    '1,,3,40',
    '0x10,0,20,20',
    '1,2,3,4,5',
    ' 1, 2, 30, 40',
    '10,20,110,90',
    ...fc.sample(fc.oneof(fc.string({ maxLength: 20 }), near), { seed, numRuns: runs }),
  ];
  return specs.map((spec, i) => ({
    name: `boxes #${i} ${JSON.stringify(spec).slice(0, 30)}`,
    run: () => parseBoxes([spec]),
    clear: [CliError],
    limitMs: 100,
    check: () => (spec.split(',').every((p) => DECIMAL.test(p.trim())) ? null : `accepted "${spec}"`),
  }));
}

/** CSV cells: no text cell may start a spreadsheet formula. */
export function csvCases(runs: number, seed: number): FaultCase[] {
  const texts = [
    '=HYPERLINK("http://x","y")',
    '+1+1',
    '-2+3',
    '@SUM(A1)',
    '\t=1',
    '\r=1',
    'plain',
    ...fc.sample(fc.string({ maxLength: 12 }), { seed, numRuns: runs }),
  ];
  return texts.map((s, i) => ({
    name: `csv #${i}`,
    run: () =>
      toCsv(['question'], [{ question: s }])
        .split('\n')
        .slice(1)
        .join('\n'),
    clear: [],
    limitMs: 100,
    check: (csv) => {
      const cell = String(csv).replace(/\n$/, '');
      const unquoted = cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell;
      return /^[=+\-@\t\r]/.test(unquoted) ? `formula cell ${JSON.stringify(unquoted)}` : null;
    },
  }));
}
