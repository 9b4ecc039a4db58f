/**
 * @file Reads of local files (Node only): regular files only, under a size cap, so a FIFO never blocks, a device
 * (/dev/zero) is never streamed, and a huge file is refused before its bytes are read. A model folder comes from
 * strangers, and so may an image or an input file: every local read of the CLI and the Node engine goes through here.
 */
import fs from 'node:fs';

/** A file that is not a regular file, or larger than its cap: `reason` says which. */
export class LocalFileError extends Error {
  constructor(
    public readonly file: string,
    reason: string,
    /** The system error code when the file could not be opened (ENOENT, EACCES, …). */
    public readonly code?: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'LocalFileError';
  }
}

const MB = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/**
 * The size of `file` when it is a regular file (a symlink to one is fine) of at most `maxBytes`.
 * @throws LocalFileError otherwise (missing, a FIFO, a device, a folder, too large)
 */
export function checkRegularFile(file: string, maxBytes: number): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new LocalFileError(file, `cannot be read (${code})`, code);
  }
  if (!st.isFile()) throw new LocalFileError(file, `not a regular file (${kind(st)}; only regular files are read)`);
  if (st.size > maxBytes) throw new LocalFileError(file, `${MB(st.size)}, more than ${MB(maxBytes)} (size limit)`);
  return st.size;
}

function kind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a folder';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * The bytes of a regular file of at most `maxBytes`. Opened non-blocking and checked on the open descriptor, so a
 * file swapped for a FIFO between the check and the open cannot block the read either; reads stop at the cap.
 * @throws LocalFileError
 */
export function readRegularFile(file: string, maxBytes: number): Buffer {
  checkRegularFile(file, maxBytes);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new LocalFileError(file, `cannot be read (${code})`, code);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new LocalFileError(file, `not a regular file (${kind(st)}; only regular files are read)`);
    if (st.size > maxBytes) throw new LocalFileError(file, `${MB(st.size)}, more than ${MB(maxBytes)} (size limit)`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}
