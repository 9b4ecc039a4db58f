/**
 * @file Progress on stderr with cli-progress: a bar on a terminal, nothing but the messages when stderr is not a
 * terminal (cli-progress draws nothing there and would hold logged lines back). Messages never break the bar.
 */
import cliProgress from 'cli-progress';

/** A progress display that also carries messages (problems found on the way). */
export interface Progress {
  /** Advance by one; `label` names what was just done. */
  tick(label: string): void;
  /** Print one message line on stderr. */
  log(message: string): void;
  stop(): void;
}

/** A progress display for `total` steps. */
export function createProgress(total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) {
    return { tick: () => undefined, log: (m) => void stream.write(`${m}\n`), stop: () => undefined };
  }
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: ' {bar} {value}/{total} | {label} | eta {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(total, 0, { label: 'starting' });
  return {
    tick: (label) => bar.increment(1, { label }),
    log: (m) => multi.log(`${m}\n`),
    stop: () => multi.stop(),
  };
}
