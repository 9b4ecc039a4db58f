/**
 * @file `sayo inspect <model dir|url>`: check a checkpoint folder against models/CONTRACT.md and print a report;
 * exit status 1 when any check fails (warnings do not fail), 2 when the folder cannot be read at all.
 */
import type { Command } from 'commander';
import { withContext } from '../lib/errors.ts';
import { openFolder } from '../lib/folder.ts';
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

/** Register the command on `program`. */
export function register(program: Command): void {
  program
    .command('inspect')
    .description('check a model folder (path or URL) against the SAYO Lens model contract')
    .argument('<model>', 'HF-layout model folder: local path or http(s) URL')
    .option('--dtype <dtype>', 'transformers.js dtype whose ONNX files to check (default: config transformers.js_config)')
    .option('--json', 'print the checks as JSON')
    .option('--no-load', 'do not load the graphs in onnxruntime (models larger than the memory at hand; warns)')
    .action(async (model: string, options: { dtype?: string; json?: boolean; load?: boolean }) => {
      const checks = await withContext(`cannot inspect ${model}`, async () => inspectFolder(openFolder(model), options.dtype, options.load !== false));
      const failed = checks.some((c) => c.status === 'fail');
      process.stdout.write(options.json ? JSON.stringify({ model, ok: !failed, checks }, null, 2) + '\n' : formatReport(model, checks));
      if (failed) process.exitCode = 1;
    });
}
