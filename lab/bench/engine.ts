/**
 * @file `npm run bench`: builds the app into a scratch folder, serves it with `vite preview`, measures the engine in
 * Node and in headless Chromium on the same model, image and question, and prints the figures with the issue's
 * targets beside them (printed, not asserted). Then runs lab/bench/core.ts when present.
 * Usage: npm run bench [-- --model sayo-mini --tokens 64 --repeats 8 --skip-browser]; `-- --scale` runs lab/bench/scale.ts,
 * `-- --deepstack` lab/bench/deepstack.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchBrowser, type BrowserBench } from './engine-browser.ts';
import { benchNode } from './engine-node.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const OUT_DIR = path.join(ROOT, 'node_modules/.cache/sayo-bench-dist');
const PORT = 4179;
const IMAGE = 'public/samples/sample-01.png';
const QUESTION = 'What shape is the blue object?';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
}

async function waitFor(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up within ${ms} ms`);
}

async function runBrowser(model: string, tokens: number, repeats: number): Promise<BrowserBench> {
  const build = spawnSync('npx', ['vite', 'build', '--mode', 'e2e', '--outDir', OUT_DIR, '--emptyOutDir'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  const server: ChildProcess = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort', '--outDir', OUT_DIR], {
    cwd: ROOT,
    stdio: 'ignore',
    detached: true,
  });
  const baseUrl = `http://127.0.0.1:${PORT}`;
  try {
    await waitFor(`${baseUrl}/e2e-harness.html`, 60_000);
    return await benchBrowser({ baseUrl, model, imageUrl: `/${path.relative('public', IMAGE)}`, question: QUESTION, tokens, repeats });
  } finally {
    if (server.pid) process.kill(-server.pid);
  }
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const pct = (capture: number, none: number) => f((none / capture - 1) * 100, 1);

/** Runs the benchmark and prints it; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args.includes('--scale')) return (await import('./scale.ts')).scaleMain(args);
  if (args.includes('--deepstack')) return (await import('./deepstack.ts')).deepstackMain(args);
  const model = arg(args, 'model', 'sayo-mini');
  const tokens = Number(arg(args, 'tokens', '64'));
  const repeats = Number(arg(args, 'repeats', '8'));
  console.log(`SAYO Lens engine benchmark: ${model}, ${IMAGE}, "${QUESTION}", ${tokens} new tokens, median of ${repeats}`);
  console.log(`load average before: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} on ${os.cpus().length} cores (other work on the machine skews every timing)`);
  const node = await benchNode({ model, image: path.join(ROOT, IMAGE), question: QUESTION, tokens, repeats });
  const browser = args.includes('--skip-browser') ? undefined : await runBrowser(model, tokens, repeats);
  const row = (label: string, a: string, b: string) => console.log(`  ${label.padEnd(34)}${a.padStart(14)}${b.padStart(16)}`);
  console.log('');
  row('', 'Node (ORT CPU)', `Chromium (${browser?.backend ?? '-'})`);
  row('model load (ms)', f(node.loadMs, 0), '-');
  row('decode tok/s, with capture', f(node.decodeTpsCapture), f(browser?.decodeTpsCapture ?? NaN));
  row('decode tok/s, without capture', f(node.decodeTpsNoCapture), f(browser?.decodeTpsNoCapture ?? NaN));
  row('A/B slowdown with capture (%, noisy)', pct(node.decodeTpsCapture, node.decodeTpsNoCapture), browser ? pct(browser.decodeTpsCapture, browser.decodeTpsNoCapture) : 'n/a');
  row('capture code share of run time (%)', f(node.captureShare * 100, 2), f((browser?.captureShare ?? NaN) * 100, 2));
  row('first token, cold (ms)', f(node.firstTokenColdMs, 0), f(browser?.firstTokenColdMs ?? NaN, 0));
  row('first token, warm (ms)', f(node.firstTokenWarmMs, 0), f(browser?.firstTokenWarmMs ?? NaN, 0));
  row('peak RSS (MB)', f(node.peakRssMb, 0), f(browser?.peakRssMb ?? NaN, 0));
  console.log('');
  console.log('  Node cold = first answer right after loading; Chromium cold = from the start of a fresh page load (empty caches).');
  console.log('  Node peak RSS is this whole process; Chromium peak RSS sums the browser\'s processes (sampled every 200 ms).');
  if (browser) {
    console.log(`  browser ${browser.backend} / node native decode speed: ${f(browser.decodeTpsCapture / node.decodeTpsCapture, 2)}× (target ≥ 0.5×)`);
  }
  console.log('  targets: capture cost ≤ 5 %; first token from a cold page load < 3000 ms (WASM)');
  console.log(`  load average after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const core = path.join(ROOT, 'lab/bench/core.ts');
  if (fs.existsSync(core)) {
    console.log('\n$ npx tsx lab/bench/core.ts');
    const r = spawnSync('npx', ['tsx', core], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}
