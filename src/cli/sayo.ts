/**
 * @file `sayo` command line: one program, one file per command under ./commands.
 * Usage errors and invalid input exit with status 2 and one line on stderr; never a stack trace.
 */
import { Command } from 'commander';
import { commands } from './commands/index.ts';

const program = new Command('sayo')
  .description('SAYO Lens command line: region reward, checkpoint evaluation, attention hooks for ONNX exports')
  .showHelpAfterError(false)
  // Errors are printed once, below, as "sayo: …" (commander would print its own copy first).
  .configureOutput({ outputError: () => undefined })
  .exitOverride();

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as { code?: string; exitCode?: number; message?: string };
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
    process.exit(0);
  process.stderr.write(`sayo: ${String(e.message ?? err).replace(/^error: /, '')}\n`);
  process.exit(e.code?.startsWith('commander.') ? 2 : (e.exitCode ?? 2));
}
