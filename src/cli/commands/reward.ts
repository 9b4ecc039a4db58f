/**
 * @file `sayo reward --input <file|->`: the SAYO region reward of one case (models/CONTRACT.md), JSON in, one JSON object out.
 * All parsing and maths live in src/core/case.ts; this module reads the input and prints. Invalid input exits with
 * status 2 and one line `sayo reward: <field>: <problem>` on stderr.
 */
import type { Command } from 'commander';
import { CaseError, runCaseText } from '../../core/case.ts';
import { INPUT_LIMITS } from '../../core/limits.ts';
import { LocalFileError, readRegularFile } from '../../engine/local-file.ts';

async function readInput(source: string): Promise<string> {
  const cap = INPUT_LIMITS.maxInputBytes;
  if (source === '-') {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of process.stdin) {
      n += (chunk as Buffer).length;
      if (n > cap) throw new CaseError('--input', `stdin: more than ${cap / 1024 / 1024} MiB (size limit)`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return readRegularFile(source, cap).toString('utf8');
  } catch (err) {
    if (err instanceof LocalFileError && err.code === undefined) throw new CaseError('--input', err.message);
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CaseError('--input', `cannot read ${JSON.stringify(source)} (${code})`);
  }
}

/** True when every number in the value is finite (the output must never carry NaN / Infinity). */
function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(allFinite);
  if (value !== null && typeof value === 'object') return Object.values(value).every(allFinite);
  return true;
}

/** Runs the command; returns the exit status. */
export async function rewardCommand(source: string): Promise<number> {
  try {
    const output = runCaseText((await readInput(source)).replace(/^\uFEFF/, ''));
    if (!allFinite(output)) throw new CaseError('output', 'a non-finite number was computed; please report this input');
    process.stdout.write(`${JSON.stringify(output)}\n`);
    return 0;
  } catch (err) {
    const line = err instanceof CaseError ? err.message : `internal error: ${(err as Error).message ?? String(err)}`;
    process.stderr.write(`sayo reward: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
    return 2;
  }
}

/** Adds `sayo reward` to the program. */
export function register(program: Command): void {
  program
    .command('reward')
    .description(
      'compute the SAYO region reward for one case (JSON in, JSON out; the definition is in models/CONTRACT.md)',
    )
    .requiredOption('--input <file>', 'case JSON file, or - for stdin')
    .addHelpText(
      'after',
      '\nOptional input fields: top_ratio (0.3), eps (1e-8), alignment ("produced", the default: token t owns the\n' +
        'attention row that produced it; "input": token t owns row t + 1, as the official SAYO code scores it).',
    )
    .action(async (opts: { input: string }) => {
      process.exitCode = await rewardCommand(opts.input);
    });
}
