/**
 * @file Which questions `sayo eval --sessions --keep` keeps, on result rows written out by hand: worst:N ranks the
 * last model's own R_a, diff:N the larger |trained − base| R_a of the two identical-text comparisons, ties to the
 * lower line, and the figures a row lacks never rank it.
 */
import { describe, expect, it } from 'vitest';
import type { EvalRow, ModelResult } from './lib/eval-run.ts';
import { identicalTextGap, parseKeep, selectLines, sessionName } from './lib/sessions.ts';

function row(model: string, line: number, R_a: number | null, tf_on: string | null, tf_R_a: number | null): EvalRow {
  return {
    key: `${model}:${line}`,
    model,
    modelName: model,
    line,
    image: 'i.png',
    question: 'q',
    answer: 'a',
    prediction: 'a',
    text: 'a',
    correct: true,
    tokens: 2,
    stoppedBy: 'eos',
    R_a,
    r_v: 0,
    imageShare: 0.5,
    pointingHit: true,
    ms: 1,
    prefillMs: 1,
    decodeMs: 0,
    tokenIds: [1, 2],
    tf_on,
    tf_tokens: tf_on ? 2 : null,
    tf_R_a,
    tf_r_v: null,
    tf_imageShare: null,
    tf_pointingHit: null,
  };
}

const result = (model: string, rows: EvalRow[]) =>
  ({ model: { spec: model }, name: model, rows, skipped: [], resumed: 0 }) as unknown as ModelResult;

// line: [base R_a, base tf_R_a (on trained's text), trained R_a, trained tf_R_a (on base's text)]
const FIGURES: Record<number, [number | null, number | null, number | null, number | null]> = {
  1: [0.4, 0.42, 0.45, 0.41], // gaps 0.01 (base text), 0.03 (trained text) → 0.03
  2: [0.25, 0.5, 0.125, 0.75], // 0.5, 0.375 → 0.5 (binary fractions: the tie with line 4 is exact)
  3: [0.5, 0.45, 0.65, 0.52], // 0.02, 0.20 → 0.20
  4: [0.25, null, 0.0625, 0.75], // 0.5 (base text only), ties line 2 → after it
  5: [null, null, 0.05, null], // no identical-text figure; the lowest trained R_a
};
const base = result(
  'base',
  Object.entries(FIGURES).map(([l, f]) => row('base', Number(l), f[0], 'trained', f[1])),
);
const trained = result(
  'trained',
  Object.entries(FIGURES).map(([l, f]) => row('trained', Number(l), f[2], 'base', f[3])),
);

describe('--keep', () => {
  it('parses all, worst:N, diff:N and refuses the rest', () => {
    expect(parseKeep('all')).toEqual({ kind: 'all' });
    expect(parseKeep('worst:20')).toEqual({ kind: 'worst', n: 20 });
    expect(parseKeep('diff:3')).toEqual({ kind: 'diff', n: 3 });
    for (const bad of ['diff:0', 'diff', 'best:2', 'worst:-1', 'diff:2.5'])
      expect(() => parseKeep(bad)).toThrow(/--keep must be/);
  });

  it('diff:N ranks the larger identical-text gap; ties go to the lower line', () => {
    expect(identicalTextGap(base.rows[0], trained.rows[0])).toBeCloseTo(0.03, 12);
    expect(identicalTextGap(base.rows[3], trained.rows[3])).toBe(0.5);
    expect(identicalTextGap(base.rows[4], trained.rows[4])).toBeNull();
    expect(selectLines({ kind: 'diff', n: 1 }, [base, trained])).toEqual([2]);
    expect(selectLines({ kind: 'diff', n: 2 }, [base, trained])).toEqual([2, 4]);
    expect(selectLines({ kind: 'diff', n: 3 }, [base, trained])).toEqual([2, 3, 4]);
    expect(selectLines({ kind: 'diff', n: 10 }, [base, trained])).toEqual([1, 2, 3, 4]);
    expect(() => selectLines({ kind: 'diff', n: 1 }, [base])).toThrow(/two --model/);
  });

  it('worst:N ranks the last model’s own R_a; all keeps every line', () => {
    expect(selectLines({ kind: 'worst', n: 2 }, [base, trained])).toEqual([4, 5]);
    expect(selectLines({ kind: 'worst', n: 1 }, [base])).toEqual([2]); // ties line 4 at 0.25: the lower line
    expect(selectLines({ kind: 'all' }, [base, trained])).toEqual([1, 2, 3, 4, 5]);
    expect(sessionName(12)).toBe('line-000012.json');
  });
});
