/**
 * @file Spawn the real `sayo` CLI (bin/sayo.mjs through Node and tsx) and collect its exit status and output;
 * used by the CLI tests so that they exercise exactly what a user runs.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (three levels above this file). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What one CLI run produced. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run `sayo <args>` from the repository root; `timeoutMs` bounds the run. */
export function runSayo(args: string[], timeoutMs = 120_000): CliRun {
  const start = performance.now();
  const res = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/sayo.mjs'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: res.status, stdout: res.stdout ?? '', stderr: res.stderr ?? '', ms: performance.now() - start };
}

/** True when `stderr` looks like a stack trace (a line starting with "at " after indentation). */
export function hasStackTrace(stderr: string): boolean {
  return /^\s+at\s/m.test(stderr);
}
