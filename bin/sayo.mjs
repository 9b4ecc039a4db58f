#!/usr/bin/env node
// Entry point of `npx sayo …`: runs the TypeScript CLI (src/cli/sayo.ts) through tsx, no build step.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/sayo.ts');
