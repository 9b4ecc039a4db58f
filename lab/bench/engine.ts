/**
 * @file `npm run bench`: builds the app into a scratch folder, serves it with `vite preview`, measures the engine in
 * Node and in headless Chromium on the same model, image and question, and prints the figures with the
 * targets beside them (printed, not asserted). Then runs lab/bench/core.ts when present.
 * Options: `npm run bench -- --help` (`-- --scale` and `-- --deepstack` are the other benchmarks, lab/bench/cli.ts).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp } from './app.ts';
import { benchBrowser, type BrowserBench } from './engine-browser.ts';
import { benchNode } from './engine-node.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const IMAGE = 'public/samples/sample-01.png';
const QUESTION = 'What shape is the blue object?';

async function runBrowser(model: string, tokens: number, repeats: number, port: number): Promise<BrowserBench> {
  const app = await startApp(port);
  try {
    return await benchBrowser({
      baseUrl: app.url,
      model,
      imageUrl: `/${path.relative('public', IMAGE)}`,
      question: QUESTION,
      tokens,
      repeats,
    });
  } finally {
    app.stop();
  }
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const pct = (capture: number, none: number) => f((none / capture - 1) * 100, 1);

/** The options of an engine run, as the command line gives them (lab/bench/cli.ts has their help). */
export interface EngineOptions {
  model: string;
  tokens: number;
  repeats: number;
  skipBrowser?: boolean;
  appPort: number;
}

/** Runs the engine benchmark and prints it; returns the exit code. */
export async function runEngine({ model, tokens, repeats, skipBrowser, appPort }: EngineOptions): Promise<number> {
  console.log(
    `SAYO Lens engine benchmark: ${model}, ${IMAGE}, "${QUESTION}", ${tokens} new tokens, median of ${repeats}`,
  );
  console.log(
    `load average before: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} on ${os.cpus().length} cores (other work on the machine skews every timing)`,
  );
  const node = await benchNode({ model, image: path.join(ROOT, IMAGE), question: QUESTION, tokens, repeats });
  const browser = skipBrowser ? undefined : await runBrowser(model, tokens, repeats, appPort);
  const row = (label: string, a: string, b: string) =>
    console.log(`  ${label.padEnd(34)}${a.padStart(14)}${b.padStart(16)}`);
  console.log('');
  row('', 'Node (ORT CPU)', `Chromium (${browser?.backend ?? '-'})`);
  row('model load (ms)', f(node.loadMs, 0), '-');
  row('decode tok/s, with capture', f(node.decodeTpsCapture), f(browser?.decodeTpsCapture ?? NaN));
  row('decode tok/s, without capture', f(node.decodeTpsNoCapture), f(browser?.decodeTpsNoCapture ?? NaN));
  row(
    'A/B slowdown with capture (%, noisy)',
    pct(node.decodeTpsCapture, node.decodeTpsNoCapture),
    browser ? pct(browser.decodeTpsCapture, browser.decodeTpsNoCapture) : 'n/a',
  );
  row('capture code share of run time (%)', f(node.captureShare * 100, 2), f((browser?.captureShare ?? NaN) * 100, 2));
  row('first token, cold (ms)', f(node.firstTokenColdMs, 0), f(browser?.firstTokenColdMs ?? NaN, 0));
  row('first token, warm (ms)', f(node.firstTokenWarmMs, 0), f(browser?.firstTokenWarmMs ?? NaN, 0));
  row('peak RSS (MB)', f(node.peakRssMb, 0), f(browser?.peakRssMb ?? NaN, 0));
  console.log('');
  console.log(
    '  Node cold = first answer right after loading; Chromium cold = from the start of a fresh page load (empty caches).',
  );
  console.log(
    "  Node peak RSS is this whole process; Chromium peak RSS sums the browser's processes (sampled every 200 ms).",
  );
  if (browser) {
    console.log(
      `  browser ${browser.backend} / node native decode speed: ${f(browser.decodeTpsCapture / node.decodeTpsCapture, 2)}× (target ≥ 0.5×)`,
    );
  }
  console.log('  targets: capture cost ≤ 5 %; first token from a cold page load < 3000 ms (WASM)');
  console.log(
    `  load average after: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const core = path.join(ROOT, 'lab/bench/core.ts');
  if (fs.existsSync(core)) {
    console.log('\n$ npx tsx lab/bench/core.ts');
    const r = spawnSync('npx', ['tsx', core], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}
