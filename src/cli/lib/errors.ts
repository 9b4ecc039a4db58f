/**
 * @file The CLI's error type. A `CliError` carries a one-line message for the user and the exit status;
 * `sayo.ts` prints it as `sayo: <message>` and exits with that status (2 for bad input or usage).
 */

/** An error meant for the user: a clear one-line message, no stack trace. */
export class CliError extends Error {
  /** Exit status commander's top-level handler uses (read as `exitCode`). */
  public readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The message of any thrown value, on one line. */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Run `fn`; turn any error that is not already a `CliError` into one whose message starts with `context`,
 * so the user sees what failed and why instead of a bare library message.
 */
export async function withContext<T>(context: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${context}: ${messageOf(err)}`);
  }
}
