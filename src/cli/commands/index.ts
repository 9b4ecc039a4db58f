/** @file The list of `sayo` commands; each module exports `register(program)`. */
import type { Command } from 'commander';
import { register as reward } from './reward.ts';
import { register as ask } from './ask.ts';
import { register as evaluate } from './eval.ts';
import { register as exposeAttention } from './expose-attention.ts';
import { register as inspect } from './inspect.ts';

export const commands: Array<(program: Command) => void> = [reward, ask, evaluate, exposeAttention, inspect];
