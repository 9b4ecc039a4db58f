#!/usr/bin/env node
// `npm run bench`: engine figures in Node (onnxruntime-node) and headless Chromium (WASM), printed, never asserted.
// Runs the TypeScript benchmark (lab/bench/engine.ts) through tsx, then `npx tsx lab/bench/core.ts` when that file exists.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../lab/bench/engine.ts');
process.exitCode = await main(process.argv.slice(2));
