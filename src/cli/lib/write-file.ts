/**
 * @file Writing outputs without ever leaving a torn file: a file that replaces another is written to a temp file in
 * the same folder, flushed, then renamed over the target (atomic on POSIX), so a kill mid-write leaves the previous
 * good copy; a failure removes the temp file. Output folders are checked up front (exists or can be made, is a
 * folder, accepts a file), so a bad --out fails in milliseconds with one clear message, before any work is done.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from './errors.ts';

/** errno codes as words a user can act on. */
function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'not permitted',
    EISDIR: 'it is a folder',
    ENOTDIR: 'a part of the path is not a folder',
    ENOENT: 'no such folder',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    EEXIST: 'it exists and is not a folder',
  };
  return e?.code ? `${words[e.code] ?? e.code}` : String((e as Error)?.message ?? err);
}

/** Removes a file if it exists; a path that cannot hold one (a parent that is a file) has nothing to remove. */
function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // ENOTDIR and the like: the file was never created.
  }
}

/**
 * Writes `data` to `file` through a temp file + rename. The target must not be a folder.
 * @throws CliError naming the file and why; no temp file is left behind
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const target = path.resolve(file);
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    throw new CliError(`cannot write ${file}: it is a folder (give a file path)`);
  }
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`,
  );
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    removeQuietly(tmp);
    throw new CliError(`cannot write ${file}: ${why(err)}`);
  }
}

/** Temp files of {@link writeFileAtomic}: `.<name>.<pid>.<8 hex>.tmp`. */
const TEMP = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** Removes temp files left in `dir` by writers that were killed (their process no longer exists). */
export function removeStaleTemps(dir: string): number {
  let removed = 0;
  for (const f of fs.readdirSync(dir)) {
    const pid = Number(TEMP.exec(f)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // still running: its write may be in progress
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    removeQuietly(path.join(dir, f));
    removed++;
  }
  return removed;
}

/**
 * mkdir -p one level at a time. Node's own `mkdirSync(dir, { recursive: true })` never returns for a path under
 * /proc (it retries the ENOENT forever); creating each missing level once fails fast instead.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let p = path.resolve(dir);
  while (!fs.existsSync(p)) {
    missing.unshift(p);
    const parent = path.dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const m of missing) fs.mkdirSync(m);
}

/**
 * Makes sure `dir` is (or can become) a writable folder and that none of `files` inside it is a folder.
 * @throws CliError naming what is wrong and what is accepted
 */
export function prepareOutputDir(dir: string, files: string[] = []): void {
  const flag = `--out ${dir}`;
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory())
    throw new CliError(`${flag}: it is a file (give a folder)`);
  try {
    makeDirs(dir);
  } catch (err) {
    throw new CliError(`${flag}: cannot create the folder (${why(err)}); give a writable folder`);
  }
  const probe = path.join(dir, `.sayo-write-test.${process.pid}.tmp`);
  try {
    fs.writeFileSync(probe, '');
  } catch (err) {
    throw new CliError(`${flag}: cannot write in the folder (${why(err)}); give a writable folder`);
  } finally {
    removeQuietly(probe);
  }
  removeStaleTemps(dir);
  for (const f of files) {
    const full = path.join(dir, f);
    if (fs.existsSync(full) && fs.statSync(full).isDirectory())
      throw new CliError(`${flag}: ${f} there is a folder; remove it or give another --out`);
  }
}
