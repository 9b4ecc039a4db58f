/**
 * @file `sayo inspect <model dir|url>`: check a checkpoint folder against models/CONTRACT.md and print a report;
 * exit status 1 when any check fails (warnings do not fail), 2 when the folder cannot be read at all.
 */
import type { Command } from 'commander';
import { checkConfigPlausible, checkProcessorPlausible, DOWNLOAD_LIMITS, LimitError } from '../../core/limits.ts';
import { CliError, withContext } from '../lib/errors.ts';
import { openFolder, readJson, type ModelFolder } from '../lib/folder.ts';
import { inspectFolder, type Check } from '../lib/inspect-checks.ts';

const MARK = { pass: '✓', fail: '✗', warn: '!' } as const;

/** The report as text: checks grouped by section, then a summary line. */
export function formatReport(label: string, checks: Check[]): string {
  const lines = [`${label}`];
  let section = '';
  for (const c of checks) {
    if (c.section !== section) {
      section = c.section;
      lines.push(`  ${section}`);
    }
    lines.push(`    ${MARK[c.status]} ${c.message}`);
  }
  const count = (s: Check['status']) => checks.filter((c) => c.status === s).length;
  lines.push(`${checks.length} checks: ${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings`);
  return lines.join('\n') + '\n';
}

/** The folder with each file read at most once (config.json is read for the plausibility check, then by the checks). */
function readOnce(folder: ModelFolder): ModelFolder {
  const cache = new Map<string, Promise<Uint8Array>>();
  return { ...folder, read: (file) => cache.get(file) ?? cache.set(file, folder.read(file)).get(file)! };
}

/** Refuses a config.json or preprocessor_config.json whose sizes are implausible before any check allocates from them. */
async function checkPlausible(folder: ModelFolder): Promise<void> {
  for (const [file, check] of [
    ['config.json', checkConfigPlausible],
    ['preprocessor_config.json', checkProcessorPlausible],
  ] as const) {
    if (!(await folder.exists(file))) continue;
    // An unreadable file is one of the checks' findings; only a readable, implausible one stops here.
    const json = await readJson(folder, file).catch(() => null);
    if (json === null) continue;
    try {
      check(json);
    } catch (e) {
      if (e instanceof LimitError) throw new CliError(e.message);
      throw e;
    }
  }
}

/** --timeout seconds → connect and idle limits. */
function timeoutMs(value: string | undefined): number {
  if (value === undefined) return DOWNLOAD_LIMITS.connectTimeoutMs;
  const s = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(s > 0) || s > 3600)
    throw new CliError(`--timeout must be a number of seconds in (0, 3600], not "${value}"`);
  return s * 1000;
}

/** Register the command on `program`. */
export function register(program: Command): void {
  program
    .command('inspect')
    .description('check a model folder (path or URL) against the SAYO Lens model contract')
    .argument('<model>', 'HF-layout model folder: local path or http(s) URL')
    .option(
      '--dtype <dtype>',
      'transformers.js dtype whose ONNX files to check (default: config transformers.js_config)',
    )
    .option('--json', 'print the checks as JSON')
    .option('--no-load', 'do not load the graphs in onnxruntime (models larger than the memory at hand; warns)')
    .option(
      '--timeout <seconds>',
      `URLs: longest wait for a response and between two chunks (default ${DOWNLOAD_LIMITS.connectTimeoutMs / 1000})`,
    )
    .action(async (model: string, options: { dtype?: string; json?: boolean; load?: boolean; timeout?: string }) => {
      const ms = timeoutMs(options.timeout);
      const onRedirect = (from: string, to: string) =>
        process.stderr.write(`sayo: note: ${from} redirected to ${to}\n`);
      const folder = readOnce(openFolder(model, { limits: { connectTimeoutMs: ms, idleTimeoutMs: ms }, onRedirect }));
      await checkPlausible(folder);
      const checks = await withContext(`cannot inspect ${model}`, async () =>
        inspectFolder(folder, options.dtype, options.load !== false),
      );
      const failed = checks.some((c) => c.status === 'fail');
      process.stdout.write(
        options.json ? JSON.stringify({ model, ok: !failed, checks }, null, 2) + '\n' : formatReport(model, checks),
      );
      if (failed) process.exitCode = 1;
    });
}
