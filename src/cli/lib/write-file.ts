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

/**
 * Writes `data` to `file` through a temp file + rename. The target must not be a folder.
 * @throws CliError naming the file and why; no temp file is left behind
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const target = path.resolve(file);
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    throw new CliError(`cannot write ${file}: it is a folder (give a file path)`);
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
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
    fs.rmSync(tmp, { force: true });
    throw new CliError(`cannot write ${file}: ${why(err)}`);
  }
}

/**
 * Makes sure `dir` is (or can become) a writable folder and that none of `files` inside it is a folder.
 * @throws CliError naming what is wrong and what is accepted
 */
export function prepareOutputDir(dir: string, files: string[] = []): void {
  const flag = `--out ${dir}`;
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new CliError(`${flag}: it is a file (give a folder)`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new CliError(`${flag}: cannot create the folder (${why(err)}); give a writable folder`);
  }
  const probe = path.join(dir, `.sayo-write-test.${process.pid}.tmp`);
  try {
    fs.writeFileSync(probe, '');
  } catch (err) {
    throw new CliError(`${flag}: cannot write in the folder (${why(err)}); give a writable folder`);
  } finally {
    fs.rmSync(probe, { force: true });
  }
  for (const f of files) {
    const full = path.join(dir, f);
    if (fs.existsSync(full) && fs.statSync(full).isDirectory()) throw new CliError(`${flag}: ${f} there is a folder; remove it or give another --out`);
  }
}
