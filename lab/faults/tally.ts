/**
 * @file The fault suite's bookkeeping: every hostile case ends in exactly one outcome, and the suite prints one line
 * `fault suite: N cases tried (N end-to-end, N validator mutations) / N clear error / N crash / N hang / N wrong / N lost
 * (N accepted)`. End-to-end cases go through a real door (a spawned CLI, the Python exporter, a real file, server or
 * engine); validator mutations are seeded single-field mutations fed to a pure validator.
 *   accepted  valid input, handled (counted as tried, not as an error)
 *   clear     refused with the project's own error type and a one-line message (what was wrong, what is accepted)
 *   crash     any other exception, a stack trace, an unexpected exit status, a signal
 *   hang      no answer within the case's time limit
 *   wrong     accepted what must be refused, or produced a wrong result
 *   lost      state that existed before (a file, a stored copy) was damaged
 */
import fs from 'node:fs';
import path from 'node:path';

export type Outcome = 'accepted' | 'clear' | 'crash' | 'hang' | 'wrong' | 'lost';

/** Which kind of case: through a real door, or a mutation fed to a pure validator. */
export type CaseKind = 'e2e' | 'mutation';

/** One recorded case. */
export interface CaseRecord {
  group: string;
  name: string;
  outcome: Outcome;
  detail: string;
  kind: CaseKind;
}

/** Collects outcomes across the suite's groups. */
export class Tally {
  readonly cases: CaseRecord[] = [];

  record(group: string, name: string, outcome: Outcome, detail = '', kind: CaseKind = 'e2e'): Outcome {
    this.cases.push({ group, name, outcome, detail, kind });
    return outcome;
  }

  count(o: Outcome): number {
    return this.cases.filter((c) => c.outcome === o).length;
  }

  /** Cases of one kind. */
  kind(k: CaseKind): number {
    return this.cases.filter((c) => c.kind === k).length;
  }

  /** Cases that are neither accepted nor a clear error. */
  failures(): CaseRecord[] {
    return this.cases.filter((c) => c.outcome !== 'accepted' && c.outcome !== 'clear');
  }

  line(): string {
    const n = (o: Outcome) => this.count(o);
    return (
      `fault suite: ${this.cases.length} cases tried (${this.kind('e2e')} end-to-end, ${this.kind('mutation')} validator mutations) / ${n('clear')} clear error / ${n('crash')} crash / ${n('hang')} hang / ` +
      `${n('wrong')} wrong / ${n('lost')} lost (${n('accepted')} accepted)`
    );
  }

  /** Writes the line and every case to `dir` (faults-summary.txt, faults-cases.json). */
  write(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'faults-summary.txt'), `${this.line()}\n`);
    fs.writeFileSync(path.join(dir, 'faults-cases.json'), JSON.stringify(this.cases, null, 1));
  }
}

/** A one-line message without a stack trace. */
export function isOneLine(message: string): boolean {
  return !/\n/.test(message.trim()) && !/^\s+at\s/m.test(message);
}

/**
 * Runs a synchronous or async case with a time limit and classifies it: `accepted` when it returns (and `check`
 * passes: else `wrong`), `clear` when it throws one of `clearTypes` with a one-line message, `crash` otherwise,
 * `hang` when it takes longer than `limitMs` (measured; a synchronous case cannot be interrupted).
 */
export async function classify(
  fn: () => unknown,
  clearTypes: Array<new (...args: any[]) => Error>,
  limitMs: number,
  check: (value: unknown) => string | null = () => null,
): Promise<{ outcome: Outcome; detail: string }> {
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), limitMs)));
  try {
    const value = await Promise.race([Promise.resolve().then(fn), timeout]);
    const ms = performance.now() - t0;
    if (value === 'hang' || ms > limitMs) return { outcome: 'hang', detail: `${ms.toFixed(0)} ms` };
    const bad = check(value);
    return bad ? { outcome: 'wrong', detail: bad } : { outcome: 'accepted', detail: '' };
  } catch (e) {
    const ms = performance.now() - t0;
    if (ms > limitMs) return { outcome: 'hang', detail: `${ms.toFixed(0)} ms, then ${(e as Error).message}` };
    const clear = clearTypes.some((T) => e instanceof T) && isOneLine((e as Error).message);
    return {
      outcome: clear ? 'clear' : 'crash',
      detail: `${(e as Error)?.name}: ${(e as Error)?.message}`.slice(0, 300),
    };
  } finally {
    clearTimeout(timer);
  }
}
