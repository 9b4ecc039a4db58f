/** @file `sayo reward`: placeholder until the reward core lands (issue 3). */
import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('reward').description('compute the SAYO region reward for one case (JSON in, JSON out)')
    .requiredOption('--input <file>', 'case JSON file, or - for stdin')
    .action(() => { throw new Error('not implemented yet'); });
}
