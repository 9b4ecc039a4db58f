/**
 * @file `npm run bench -- --scale`: the engine at real scale, on the ladder of random-weight checkpoints
 * (`python -m sayo_train ladder`, built on demand and cached). Per rung, in Node (onnxruntime-node, one process per
 * job) and in headless Chromium (WASM, one browser per job): prefill, decode tokens/s over a forced length, capture
 * cost (interleaved A/B: all layers / last layer / none / the same weights without attention outputs), bytes per token
 * crossing the worker, peak memory, first token cold and warm, transformers.js's own generate() on the same folder,
 * and the memory-bandwidth limit (decoder weight bytes per token ÷ measured copy bandwidth). At the mid rung also
 * ~100 / ~400 / ~1,300 image tokens and 32 / 128 / 512 generated tokens (RSS per 128 tokens), and ONNX Runtime intra-op
 * threads 1 vs 2, interleaved, in Node and in Chromium (`--threads-ab` rungs at `--threads-images`; `--threads-only`
 * runs just that). In Chromium also WebGPU rows (`--webgpu` rungs, none by default; `--webgpu-tokens`, default 8),
 * and the mid rung's sweeps as in Node (`--skip-sweeps` skips both; `--skip-node` skips every Node job). Printed, never asserted; the machine's load average is printed beside every table. `--json FILE`
 * also writes every figure. The app is built into node_modules/.cache/sayo-bench-dist and previewed on port 4181;
 * `--app-port N` uses port N and its own build folder (sayo-bench-dist-N), so two runs never share one.
 *
 * Usage: npm run bench -- --scale [--rungs mini,25m,100m,500m] [--quantized 500m] [--mid 100m] [--tokens 32] [--rounds 3]
 *        [--threads 1] [--threads-ab 100m,500m] [--threads-images 100,1300] [--quantized-only] [--skip-rungs | --skip-node]
 *        [--skip-browser] [--skip-sweeps] [--images 400,1300] [--browser-memory-only] [--threads-only] [--app-port 4181]
 *        [--webgpu mini,25m] [--webgpu-tokens 8]
 *        npm run bench -- --scale --rungs mini,25m,100m --threads-ab mini,25m,100m --threads-images 100,1300 --threads-only
 *        (the threads A/B alone, Node and Chromium)
 *        npm run bench -- --scale --rungs 2b --quantized 2b --quantized-only --images 1300 ...   (the opt-in 2b rung,
 *        built light: its whole 4-bit set, 'q4-all'; --images adds peak memory at more image tokens, Node and Chromium)
 *        [--json docs/bench/scale-latest.json]
 *        npm run bench -- --scale --print docs/bench/scale-latest.json   (the tables of a saved run)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { DTYPE_SUFFIX } from '../../src/cli/lib/inspect-checks.ts';
import { median } from '../support/stats.ts';
import { benchBrowserScale, benchBrowserWebGpu, serveFolder, type BrowserScaleResult } from './scale-browser.ts';
import { DTYPE, decoderDtype, type DecodeResult, type MemoryResult, type Precision, type ScaleJob, type ScaleResult, type ThreadsResult, type Variant, type VariantFigures } from './scale-node.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const WORK = path.join(ROOT, 'node_modules/.cache/sayo-bench-scale');
const QUESTION = 'What shape is the blue object?';
/** Square images whose sides are multiples of 28 px: 10² = 100, 20² = 400, 36² = 1,296 image tokens. */
const IMAGE_SIDES: Record<string, number> = { '100': 280, '400': 560, '1300': 1008 };
/** Default port of the app's preview server (`--app-port`). */
const APP_PORT = 4181;

/** One rung as `python -m sayo_train ladder --json` reports it. */
export interface LadderEntry {
  rung: string;
  path: string;
  /** The same weights without attention outputs; null for a light rung (2b), whose capture cost is measured against
   * the same graph with nothing fetched. */
  noattn: string | null;
  /** A DeepStack rung's twin: the same checkpoint without DeepStack (null for other rungs). */
  twin?: string | null;
  /** Why the rung was built light (last layer's attention, q4 only), or empty. */
  light?: string;
  /** Quantized decoders the rung has (transformers.js dtypes). */
  quantized?: string[];
  layers: number;
  heads: number;
  params: number;
  decoder_params: number;
  built: boolean;
}

const arg = (args: string[], name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const f = (x: number | undefined, d = 1) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mb = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${Math.round(x)}` : 'n/a');

/** The ladder's rungs, built if missing (one command: `python -m sayo_train ladder`). */
export function ensureLadder(rungs: string[], quantized = false): LadderEntry[] {
  const venv = path.join(ROOT, '.venv/bin/python');
  const py = fs.existsSync(venv) ? venv : 'python3';
  const r = spawnSync(py, ['-m', 'sayo_train', 'ladder', '--rungs', rungs.join(','), '--json', ...(quantized ? ['--quantized'] : [])], {
    cwd: path.join(ROOT, 'training'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`python -m sayo_train ladder failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** Copy bandwidth of this machine in one thread (GB/s read): best of 5 copies of a 256 MB buffer. */
export function copyBandwidthGBs(): number {
  const n = 64 * 2 ** 20;
  const a = new Float32Array(n).fill(1);
  const b = new Float32Array(n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    b.set(a);
    best = Math.min(best, performance.now() - t0);
  }
  return (n * 4) / (best / 1000) / 1e9;
}

/** Bytes of decoder weights read per generated token: the decoder graph (layers + LM head; one embedding row is
 * negligible), of the precision benchmarked. */
export function weightBytesPerToken(e: LadderEntry, dtype: Precision = 'fp32'): number {
  return fs.statSync(path.join(e.path, 'onnx', `decoder_model_merged${DTYPE_SUFFIX[decoderDtype(dtype)]}.onnx`)).size;
}

/** Decode variants a rung runs: a light rung (one captured layer, no noattn view) has no 'all' and no 'noattn'. */
export function variantsOf(e: LadderEntry): Variant[] {
  return e.noattn ? ['all', 'last', 'none', 'noattn', 'tjs', 'tjs-attn'] : ['last', 'none', 'tjs', 'tjs-attn'];
}

/** Quantized precisions a rung is measured in: the q4 and q8 decoders, or a light rung's whole 4-bit set. */
export function quantizedUnits(e: LadderEntry): Precision[] {
  return e.light ? ['q4-all'] : ['q4', 'q8'];
}

/** The benchmark images (from the first sample, square, `sides` by label), written once. */
export async function images(sides: Record<string, number> = IMAGE_SIDES): Promise<Record<string, string>> {
  fs.mkdirSync(WORK, { recursive: true });
  const src = await RawImage.read(path.join(ROOT, 'public/samples/sample-01.png'));
  const out: Record<string, string> = {};
  for (const [k, side] of Object.entries(sides)) {
    out[k] = path.join(WORK, `image-${side}.png`);
    if (!fs.existsSync(out[k])) await (await src.resize(side, side)).save(out[k]);
  }
  return out;
}

/** Runs one Node job in a fresh process. */
export function nodeJob<T extends ScaleResult>(job: ScaleJob): Promise<T | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lab/bench/scale-node.ts'), JSON.stringify(job)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('SCALE_RESULT '));
      if (line) resolve(JSON.parse(line.slice('SCALE_RESULT '.length)));
      else resolve({ error: `exit ${code}: ${err.trim().split('\n').filter(Boolean).slice(-3).join(' | ').slice(0, 400)}` });
    });
  });
}

async function startApp(port = APP_PORT): Promise<{ url: string; stop: () => void }> {
  const outDir = path.join(ROOT, `node_modules/.cache/sayo-bench-dist${port === APP_PORT ? '' : `-${port}`}`);
  const build = spawnSync('npx', ['vite', 'build', '--mode', 'e2e', '--outDir', outDir, '--emptyOutDir'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  const server: ChildProcess = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort', '--outDir', outDir], {
    cwd: ROOT,
    stdio: 'ignore',
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    try {
      if (server.pid) process.kill(-server.pid);
    } catch {
      // already gone
    }
  };
  const end = Date.now() + 60_000;
  for (;;) {
    // Fetch (Node's, and Chromium's) refuses the ports of the Fetch standard's "bad port" list (e.g. 4190): say so at once.
    const up = await fetch(`${url}/e2e-harness.html`).then(
      (r) => r.ok,
      (e: Error & { cause?: Error }) => ((e.cause ?? e).message === 'bad port' ? 'bad port' : false),
    );
    if (up === true) break;
    if (up === 'bad port' || Date.now() > end) {
      stop();
      throw new Error(up === 'bad port' ? `--app-port ${port}: browsers refuse this port (a "bad port" of the Fetch standard); pick another` : `${url} did not come up within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, stop };
}

const isErr = (x: unknown): x is { error: string } => typeof x === 'object' && x !== null && 'error' in x && typeof (x as any).error === 'string';

/** Everything one run measured (written with --json). */
export interface ScaleReport {
  date: string;
  machine: { cpus: string; cores: number; memGiB: number; node: string };
  loadBefore: number[];
  loadAfter?: number[];
  copyGBs: number;
  tokens: number;
  rounds: number;
  threads: number;
  rungs: Array<{
    entry: LadderEntry;
    dtype: Precision;
    label: string;
    weightBytes: number;
    node?: DecodeResult | { error: string };
    memory: Record<string, MemoryResult | { error: string }>;
    browser?: BrowserScaleResult;
    browserMemory: Record<string, BrowserScaleResult>;
    /** Peak memory at other image-token counts (`--images`): Node with and without capture, Chromium capturing. */
    atImages?: Record<string, { node: Record<string, MemoryResult | { error: string }>; browser?: BrowserScaleResult }>;
  }>;
  imageTokens: Array<{ rung: string; tokens: string; node: DecodeResult | { error: string }; memory: Record<string, MemoryResult | { error: string }> }>;
  lengths: Array<{ rung: string; tokens: number; node: MemoryResult | { error: string } }>;
  threadsAB: Array<{ rung: string; result: ThreadsResult | { error: string } }>;
  /** The same A/B in Chromium (onnxruntime-web's WASM thread pool; one worker per thread count). */
  browserThreadsAB?: Array<{ rung: string; images: string; result: BrowserScaleResult }>;
  /** WebGPU rows in Chromium (`--webgpu`): the decode job on backend 'webgpu', `tokens` forced new tokens. */
  browserWebGpu?: Array<{ rung: string; label: string; tokens: number; result: BrowserScaleResult }>;
  /** Chromium sweeps at the mid rung: image tokens (decode last / none; tree peak capturing the last layer and
   * without: the noattn view, or the same graph with nothing fetched for a light rung) and generated lengths. */
  browserImageTokens?: Array<{ rung: string; tokens: string; result: BrowserScaleResult; memory: Record<string, BrowserScaleResult> }>;
  browserLengths?: Array<{ rung: string; tokens: number; result: BrowserScaleResult }>;
}

/** The load average at the end of the run (the tables are printed then). */
const loadAt = (rep: ScaleReport) => rep.loadAfter?.map((x) => x.toFixed(2)).join(' ') ?? 'n/a';

function printRungs(rep: ScaleReport): void {
  if (!rep.rungs.length) return; // a --threads-only run
  const cols = ['rung', 'params', 'img', 'prefill ms', 'tok/s all', 'last', 'none', 'noattn', 'tjs gen', 'tjs+attn', 'limit', 'B/tok last', 'cold ms', 'warm ms', 'peak MB all/last/noattn'];
  console.log(`\nNode (onnxruntime-node, ${rep.threads} thread${rep.threads > 1 ? 's' : ''}), ${rep.tokens} forced new tokens, median of ${rep.rounds} interleaved rounds — load ${loadAt(rep)}`);
  console.log(cols.join(' | '));
  for (const r of rep.rungs) {
    const n = r.node;
    const v = !n || isErr(n) ? undefined : n.variants;
    const limit = (rep.copyGBs * 1e9) / r.weightBytes;
    const memKeys = r.entry.noattn ? ['all', 'last', 'noattn'] : ['last', 'none'];
    const mem = `${memKeys.map((k) => (isErr(r.memory[k]) ? 'err' : mb((r.memory[k] as MemoryResult | undefined)?.peakRssMb))).join('/')}${r.entry.noattn ? '' : ' (last/none)'}`;
    console.log(
      [
        r.label,
        `${f(r.entry.params / 1e6)} M`,
        !n || isErr(n) ? '-' : String(n.imageTokens),
        f(v?.last?.prefillMs, 0),
        f(v?.all?.decodeTps),
        f(v?.last?.decodeTps),
        f(v?.none?.decodeTps),
        f(v?.noattn?.decodeTps),
        f(v?.tjs?.decodeTps),
        f(v?.['tjs-attn']?.decodeTps),
        f(limit),
        f(v?.last?.bytesPerToken, 0),
        !n || isErr(n) ? '-' : f(n.firstTokenColdMs, 0),
        !n || isErr(n) ? '-' : f(n.firstTokenWarmMs, 0),
        mem,
      ].join(' | '),
    );
    if (n && isErr(n)) console.log(`  ${r.label}: Node decode job failed: ${n.error}`);
  }
  console.log('\nRatios against the aims (Node):');
  for (const r of rep.rungs) {
    const n = r.node;
    if (!n || isErr(n)) continue;
    const v = n.variants;
    const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a / b : NaN);
    // Paired by round (a round runs every variant back to back): the median and range of the per-round cost, which
    // drifts less than a ratio of medians; then the engine's own capture code, timed inside the loop.
    const paired = (a?: VariantFigures, b?: VariantFigures) => {
      const ra = a?.roundsTps;
      const rb = b?.roundsTps;
      if (!ra || !rb || ra.length !== rb.length) return `${f((ratio(a?.decodeTps, b?.decodeTps) - 1) * 100)} %`;
      const xs = ra.map((x, i) => (x / rb[i] - 1) * 100).sort((p, q) => p - q);
      return `${f(median(xs))} % [${f(xs[0])}, ${f(xs[xs.length - 1])}]`;
    };
    // Without a noattn view (a light rung) the baseline is the same graph with nothing fetched.
    const base = r.entry.noattn ? 'noattn decoder' : 'same graph, nothing fetched (light rung: no noattn view)';
    const overhead = (c?: VariantFigures) => paired(v.noattn ?? v.none, c);
    const code = (c?: VariantFigures) => (c?.captureShare === undefined ? 'n/a' : `${f(c.captureShare * 100, 2)} %`);
    const limit = (rep.copyGBs * 1e9) / r.weightBytes;
    const m = (k: string) => (isErr(r.memory[k]) ? NaN : (r.memory[k] as MemoryResult | undefined)?.peakRssMb);
    const mBase = r.entry.noattn ? 'noattn' : 'none';
    console.log(
      `  ${r.label.padEnd(8)} capture cost vs ${base}, per round: last ${overhead(v.last)}, all ${v.all ? overhead(v.all) : 'n/a'} (aim ≤ 5 % last)` +
        ` · capture code in the loop: last ${code(v.last)}, all ${code(v.all)} of the run` +
        ` · ours/tjs generate: ${f(ratio((v.all ?? v.last)?.decodeTps, v['tjs-attn']?.decodeTps), 2)}× with attentions, ${f(ratio(v.none?.decodeTps, v.tjs?.decodeTps), 2)}× without (aim ≥ 0.95×)` +
        ` · decode/limit ${f(ratio(v.last?.decodeTps, limit), 2)} (aim ≥ 0.5 at 500m, 2b)` +
        ` · peak last/${mBase} ${f(ratio(m('last'), m(mBase)), 2)}×, all/${mBase} ${f(ratio(m('all'), m(mBase)), 2)}× (aim ≤ 1.1×)`,
    );
  }
  const at = rep.rungs.filter((r) => r.atImages && Object.keys(r.atImages).length);
  if (at.length) {
    console.log(`\nPeak memory at more image tokens (capture last layer; Node with and without capture) — load ${loadAt(rep)}`);
    console.log(['rung', 'image tokens', 'Node peak MB last / without', 'prefill ms (Node, last)', 'Chromium tree peak MB', 'largest Chromium process MB (holds the WASM heap)', 'Chromium'].join(' | '));
    for (const r of at) {
      for (const [k, x] of Object.entries(r.atImages!)) {
        const nm = (v: string) => (isErr(x.node[v]) ? 'err' : mb((x.node[v] as MemoryResult | undefined)?.peakRssMb));
        const last = x.node.last && !isErr(x.node.last) ? x.node.last : undefined;
        const b = x.browser;
        console.log(
          [r.label, last ? String(last.imageTokens) : k, `${nm('last')} / ${nm(r.entry.noattn ? 'noattn' : 'none')}`, f(last?.prefillMs, 0), b ? mb(b.peakRssMb) : '-', b ? mb(b.largestProcessMb) : '-', !b ? 'not run' : b.error ? `error: ${b.error}` : 'answered'].join(' | '),
        );
        for (const [v, y] of Object.entries(x.node)) if (isErr(y)) console.log(`  ${r.label} Node ${v} at ${k}: ${y.error}`);
      }
    }
  }
  if (rep.rungs.some((r) => r.browser)) {
    console.log(`\nChromium (WASM, the worker engine, model by URL), ${rep.tokens} forced new tokens — load ${loadAt(rep)}`);
    console.log(['rung', 'prefill ms', 'tok/s all', 'last', 'none', 'tjs generate() / +attn', 'ours ÷ tjs with attentions', 'wasm/node last', 'B/tok last', 'cold ms', 'warm ms', 'tree peak MB', 'peak last/none'].join(' | '));
    for (const r of rep.rungs) {
      const b = r.browser;
      if (!b) continue;
      const n = r.node && !isErr(r.node) ? r.node.variants : undefined;
      const ml = r.browserMemory.last?.peakRssMb;
      const mn = r.browserMemory.none?.peakRssMb;
      const t = b.decodeTps ?? {};
      // Files saved before the Chromium tjs variants have none: '-' (not run), as an error leaves them out too.
      const hasTjs = 'tjs' in t || 'tjs-attn' in t;
      console.log(
        [
          r.label,
          f(b.prefillMs?.last, 0),
          f(t.all),
          f(t.last),
          f(t.none),
          hasTjs ? `${f(t.tjs)} / ${f(t['tjs-attn'])}` : '-',
          hasTjs ? `${f((t.all ?? t.last) / t['tjs-attn'], 2)}×` : '-',
          f((t.last ?? NaN) / (n?.last?.decodeTps ?? NaN), 2),
          f(b.bytesPerToken?.last, 0),
          f(b.firstTokenColdMs, 0),
          f(b.firstTokenWarmMs, 0),
          mb(b.peakRssMb),
          `${mb(ml)}/${mb(mn)} = ${f((ml ?? NaN) / (mn ?? NaN), 2)}×`,
        ].join(' | '),
      );
      if (hasTjs) {
        const p = b.prefillMs ?? {};
        const threads = b.threads === b.tjsThreads ? `both ${b.threads}` : `ours ${b.threads ?? 'n/a'}, transformers.js ${b.tjsThreads ?? 'n/a'}`;
        // Paired by round (a round runs every variant back to back), as the Node capture cost.
        const ra = b.roundsTps?.all ?? b.roundsTps?.last;
        const rt = b.roundsTps?.['tjs-attn'];
        const perRound = ra && rt && ra.length === rt.length ? `; ours ÷ tjs with attentions per round: ${ra.map((x, i) => f(x / rt[i], 2)).join(', ')}` : '';
        console.log(`  ${r.label}: WASM threads ${threads}${b.tjsThreadsNote ? ` (${b.tjsThreadsNote})` : ''}; prefill ms ours last ${f(p.last, 0)}, tjs ${f(p.tjs, 0)}, tjs+attn ${f(p['tjs-attn'], 0)}${perRound}`);
      }
      if (b.tjsError) console.log(`  ${r.label} Chromium: ${b.tjsError}`);
      for (const [k, x] of Object.entries({ decode: b, ...r.browserMemory })) if (x.error) console.log(`  ${r.label} Chromium ${k}: ${x.error}`);
    }
    if (rep.rungs.some((r) => r.browser?.decodeTps && 'tjs' in r.browser.decodeTps)) {
      console.log('  tjs = transformers.js generate() in a worker of its own (same folder, dtype, WASM threads); ours ÷ tjs with attentions =');
      console.log('  our loop capturing all layers ÷ generate() with output_attentions. The tree peak is the decode job\'s, both workers');
      console.log('  loaded; peak last/none are jobs with our worker alone.');
    }
  }
}

function printSweeps(rep: ScaleReport): void {
  if (rep.imageTokens.length) {
    console.log(`\nImage tokens at ${rep.imageTokens[0].rung} (Node, capture last layer unless named) — load ${loadAt(rep)}`);
    console.log(['image tokens', 'prompt', 'prefill ms', 'tok/s last', 'noattn', 'tjs gen', 'peak MB all/last/noattn'].join(' | '));
    for (const s of rep.imageTokens) {
      const n = s.node;
      const mem = ['all', 'last', 'noattn'].map((k) => (isErr(s.memory[k]) ? 'err' : mb((s.memory[k] as MemoryResult | undefined)?.peakRssMb))).join('/');
      if (isErr(n)) console.log(`${s.tokens} | error: ${n.error}`);
      else console.log([n.imageTokens, n.promptTokens, f(n.variants.last?.prefillMs, 0), f(n.variants.last?.decodeTps), f(n.variants.noattn?.decodeTps), f(n.variants.tjs?.decodeTps), mem].join(' | '));
    }
  }
  if (rep.lengths.length) {
    console.log(`\nGenerated length at ${rep.lengths[0].rung} (Node, capture last layer, ~100 image tokens) — load ${loadAt(rep)}`);
    console.log(['new tokens', 'prefill ms', 'tok/s', 'peak MB', 'RSS MB at token 1 / 128 / 256 / …'].join(' | '));
    for (const s of rep.lengths) {
      const n = s.node;
      if (isErr(n)) console.log(`${s.tokens} | error: ${n.error}`);
      else console.log([s.tokens, f(n.prefillMs, 0), f(n.decodeTps), mb(n.peakRssMb), n.rssAt.map(([t, m]) => `${t}:${Math.round(m)}`).join(' ')].join(' | '));
    }
  }
  const abLine = (by: Record<string, { prefillMs: number; decodeTps: number; rounds?: Array<{ prefillMs: number; decodeTps: number }> }>) => {
    const list = (v: (typeof by)[string], k: 'prefillMs' | 'decodeTps', d: number) => (v.rounds ? ` [${v.rounds.map((r) => f(r[k], d)).join(', ')}]` : '');
    const line = Object.entries(by).map(([k, v]) => `${k} thread(s) prefill ${f(v.prefillMs, 0)} ms${list(v, 'prefillMs', 0)}, decode ${f(v.decodeTps)} tok/s${list(v, 'decodeTps', 1)}`).join(' · ');
    const ratio = by['1'] && by['2'] ? `\n    2 threads ÷ 1: prefill speed ${f(by['1'].prefillMs / by['2'].prefillMs, 2)}×, decode ${f(by['2'].decodeTps / by['1'].decodeTps, 2)}×` : '';
    return line + ratio;
  };
  if (rep.threadsAB.length) {
    console.log(`\nORT intra-op threads, interleaved (Node, capture last layer; medians, [every round]) — load ${loadAt(rep)}`);
    for (const t of rep.threadsAB) {
      if (isErr(t.result)) {
        console.log(`  ${t.rung}: error ${t.result.error}`);
        continue;
      }
      const img = t.result.imageTokens ? ` @ ${t.result.imageTokens} image tokens` : '';
      console.log(`  ${t.rung}${img}: ${abLine(t.result.byThreads)}`);
    }
  }
  if (rep.browserThreadsAB?.length) {
    console.log('\nORT intra-op threads, interleaved (Chromium WASM: onnxruntime-web\'s thread pool, one engine worker per count; capture last');
    console.log('layer; medians, [every round]; load average at the job\'s start → end)');
    for (const t of rep.browserThreadsAB) {
      const r = t.result;
      const load = r.load ? ` — load ${r.load.before.map((x) => x.toFixed(2)).join(' ')} → ${r.load.after.map((x) => x.toFixed(2)).join(' ')}` : '';
      if (r.error || !r.byThreads) {
        console.log(`  ${t.rung} @ ~${t.images} image tokens: error ${r.error ?? 'no figures'}${load}`);
        continue;
      }
      const asked = Number(t.images) > 100 && r.imageTokens !== undefined && r.imageTokens < Number(t.images) / 2 ? ` (image for ~${t.images}, capped by the processor)` : '';
      const img = r.imageTokens ? ` @ ${r.imageTokens} image tokens${asked}` : ` @ ~${t.images} image tokens`;
      console.log(`  ${t.rung}${img}${load}: ${abLine(r.byThreads)}`);
      for (const [k, v] of Object.entries(r.byThreads)) {
        if (v.inUse !== Number(k)) console.log(`    asked ${k} thread(s), ONNX Runtime ran ${v.inUse}${v.note ? `: ${v.note}` : ''}`);
      }
    }
    const isolated = rep.browserThreadsAB.map((t) => t.result.isolated).filter((x) => x !== undefined);
    if (isolated.length && isolated.every((x) => x)) {
      console.log('  The app was cross-origin isolated (COOP same-origin + COEP credentialless from the preview server, build/security-headers.ts):');
      console.log('  SharedArrayBuffer, so onnxruntime-web runs a thread pool. Served without those headers it runs one thread.');
    } else if (isolated.some((x) => !x)) {
      console.log('  The app was NOT cross-origin isolated (no COOP/COEP headers reached the page): SharedArrayBuffer is unavailable and');
      console.log('  onnxruntime-web runs one thread, whatever was asked.');
    }
  }
}

/** Forced new tokens of a WebGPU row unless `--webgpu-tokens` says otherwise (at most `--tokens`): this machine's
 * adapter is SwiftShader, WebGPU emulated on the CPU. */
const WEBGPU_TOKENS = 8;

/**
 * Rungs of the WebGPU rows: `--webgpu a,b`; none by default. The only adapter here and in CI is SwiftShader, WebGPU
 * emulated on the CPU: its rows measure the emulation, not the engine on a GPU (the engine's WebGPU path is checked by
 * e2e/engine.spec.ts), and they are long — the 25m decode job alone, with `--rounds 1`, spends minutes in prefills.
 */
export function webgpuRungs(args: string[]): string[] {
  const asked = arg(args, 'webgpu', 'none');
  return asked === 'none' ? [] : asked.split(',');
}

/** What the Chromium jobs added here need from the run: the app, model URLs, images, the report and its saver. */
interface BrowserRun {
  rep: ScaleReport;
  appUrl: string;
  url: (folder: string) => string;
  img: Record<string, string>;
  tokens: number;
  rounds: number;
  save: () => void;
}

/** The WebGPU rows: the decode job on backend 'webgpu' for every unit of the named rungs (one browser per job). */
async function browserWebGpuRows(b: BrowserRun, rungs: string[], tokens: number): Promise<void> {
  const imageBase64 = fs.readFileSync(b.img['100']).toString('base64');
  for (const rung of rungs) {
    const units = b.rep.rungs.filter((r) => r.entry.rung === rung);
    if (!units.length) (b.rep.browserWebGpu ??= []).push({ rung, label: rung, tokens, result: { error: 'not a rung of this run (--rungs)', peakRssMb: NaN } });
    for (const r of units) {
      console.error(`… ${r.label}: Chromium WebGPU, ${tokens} tokens`);
      const result = await benchBrowserWebGpu({ appUrl: b.appUrl, imageBase64, question: QUESTION, tokens, rounds: b.rounds, dtype: DTYPE(r.dtype), modelUrl: b.url(r.entry.path) });
      (b.rep.browserWebGpu ??= []).push({ rung, label: r.label, tokens, result });
      b.save();
    }
  }
}

/** The Chromium sweeps at the mid rung, as Node's: ~100 / ~400 / ~1,300 image tokens and 32 / 128 / 512 new tokens. */
async function browserSweeps(b: BrowserRun, m: LadderEntry | undefined): Promise<void> {
  if (!m) return;
  const job = { appUrl: b.appUrl, question: QUESTION, modelUrl: b.url(m.path) };
  for (const k of ['100', '400', '1300']) {
    console.error(`… ${m.rung}: Chromium, ${k} image tokens`);
    const imageBase64 = fs.readFileSync(b.img[k]).toString('base64');
    const result = await benchBrowserScale({ ...job, imageBase64, tokens: b.tokens, rounds: Math.max(1, b.rounds - 1), kind: 'images' });
    // At ~100 image tokens the rung's own memory jobs are these (when the rung ran in Chromium in fp32).
    const own = k === '100' ? b.rep.rungs.find((r) => r.entry.rung === m.rung && r.dtype === 'fp32')?.browserMemory : undefined;
    const memory: Record<string, BrowserScaleResult> = own?.last && own.none ? own : {};
    if (!own?.last || !own.none) {
      memory.last = await benchBrowserScale({ ...job, imageBase64, tokens: b.tokens, rounds: 1, kind: 'memory', variant: 'last' });
      memory.none = await benchBrowserScale({ ...job, imageBase64, tokens: b.tokens, rounds: 1, kind: 'memory', variant: 'none', modelUrl: b.url(m.noattn ?? m.path) });
    }
    (b.rep.browserImageTokens ??= []).push({ rung: m.rung, tokens: k, result, memory });
    b.save();
  }
  const imageBase64 = fs.readFileSync(b.img['100']).toString('base64');
  for (const n of [32, 128, 512]) {
    console.error(`… ${m.rung}: Chromium, ${n} new tokens`);
    (b.rep.browserLengths ??= []).push({ rung: m.rung, tokens: n, result: await benchBrowserScale({ ...job, imageBase64, tokens: n, rounds: 1, kind: 'length' }) });
    b.save();
  }
}

const loadSpan = (r: BrowserScaleResult) => (r.load ? `${r.load.before.map((x) => x.toFixed(2)).join(' ')} → ${r.load.after.map((x) => x.toFixed(2)).join(' ')}` : 'n/a');

/** The WebGPU table: the page's adapter, the decode figures, and WebGPU ÷ WASM (the rung's Chromium WASM row). */
export function printWebGpu(rep: ScaleReport): void {
  const rows = rep.browserWebGpu ?? [];
  if (!rows.length) return;
  const wasmTokens = rep.rungs.some((r) => r.browser) ? `, WASM rows ${rep.tokens}` : '';
  console.log(`\nChromium WebGPU (the worker engine, backend 'webgpu', model by URL), ${rows[0].tokens} forced new tokens${wasmTokens}, median of ${rep.rounds} interleaved rounds`);
  console.log(['rung', 'adapter (vendor/architecture)', 'prefill ms', 'tok/s all', 'last', 'none', 'WebGPU ÷ WASM last / none', 'cold ms', 'warm ms', 'tree peak MB', 'load start → end'].join(' | '));
  for (const w of rows) {
    const g = w.result;
    const a = g.adapter;
    const adapter = !a ? 'n/a' : !a.available ? 'none' : `${[a.vendor, a.architecture].filter(Boolean).join('/') || 'unnamed'}${a.isFallbackAdapter ? ', fallback adapter' : a.isFallbackAdapter === false ? '' : ', fallback n/a'}`;
    if (g.error) {
      console.log([w.label, adapter, `error: ${g.error}`, loadSpan(g)].join(' | '));
      continue;
    }
    const wasm = rep.rungs.find((r) => r.label === w.label)?.browser?.decodeTps;
    const ratio = (k: string) => f((g.decodeTps?.[k] ?? NaN) / (wasm?.[k] ?? NaN), 2);
    console.log(
      [w.label, adapter, f(g.prefillMs?.last, 0), f(g.decodeTps?.all), f(g.decodeTps?.last), f(g.decodeTps?.none), `${ratio('last')} / ${ratio('none')}`, f(g.firstTokenColdMs, 0), f(g.firstTokenWarmMs, 0), mb(g.peakRssMb), loadSpan(g)].join(' | '),
    );
  }
}

/** The Chromium sweeps' tables (image tokens, generated length), like Node's. */
export function printBrowserSweeps(rep: ScaleReport): void {
  const images = rep.browserImageTokens ?? [];
  if (images.length) {
    console.log(`\nImage tokens at ${images[0].rung} (Chromium WASM, the worker engine; decode medians of ${Math.max(1, rep.rounds - 1)} interleaved rounds, ${rep.tokens} forced new tokens)`);
    console.log(['image tokens', 'prompt', 'prefill ms last', 'tok/s last', 'none', 'tree peak MB last / without', 'last ÷ without', 'load start → end'].join(' | '));
    for (const s of images) {
      const r = s.result;
      const ml = s.memory.last?.peakRssMb;
      const mn = s.memory.none?.peakRssMb;
      if (r.error) console.log([`~${s.tokens}`, `error: ${r.error}`, loadSpan(r)].join(' | '));
      const capped = Number(s.tokens) > 100 && r.imageTokens !== undefined && r.imageTokens < Number(s.tokens) / 2 ? ` (image for ~${s.tokens}, capped by the processor)` : '';
      if (!r.error) console.log([`${r.imageTokens ?? `~${s.tokens}`}${capped}`, r.promptTokens ?? 'n/a', f(r.prefillMs?.last, 0), f(r.decodeTps?.last), f(r.decodeTps?.none), `${mb(ml)} / ${mb(mn)}`, `${f((ml ?? NaN) / (mn ?? NaN), 2)}×`, loadSpan(r)].join(' | '));
      for (const [k, x] of Object.entries(s.memory)) if (x.error) console.log(`  ~${s.tokens} image tokens, Chromium memory ${k}: ${x.error}`);
    }
  }
  const lengths = rep.browserLengths ?? [];
  if (lengths.length) {
    console.log(`\nGenerated length at ${lengths[0].rung} (Chromium WASM, capture last layer, ~100 image tokens; tree RSS polled with the page's step counter)`);
    console.log(['new tokens', 'prefill ms', 'tok/s', 'tree peak MB', 'largest process MB', 'RSS MB tree/largest process at step 1 / 128 / 256 / … (the step seen)', 'load start → end'].join(' | '));
    for (const s of lengths) {
      const r = s.result;
      if (r.error) console.log([s.tokens, `error: ${r.error}`, loadSpan(r)].join(' | '));
      else console.log([s.tokens, f(r.prefillMs?.last, 0), f(r.decodeTps?.last), mb(r.peakRssMb), mb(r.largestProcessMb), (r.rssAt ?? []).map(([t, tree, largest]) => `${t}:${Math.round(tree)}/${Math.round(largest)}`).join(' '), loadSpan(r)].join(' | '));
    }
  }
}

/** Prints the tables of a saved report (`--print FILE`). */
export function printReport(rep: ScaleReport): void {
  console.log(`SAYO Lens scale benchmark of ${rep.date} — ${rep.machine.cpus}, ${rep.machine.cores} cores, ${rep.machine.memGiB.toFixed(0)} GiB, Node ${rep.machine.node}`);
  console.log(`load average before: ${rep.loadBefore.map((x) => x.toFixed(2)).join(' ')}, after: ${rep.loadAfter?.map((x) => x.toFixed(2)).join(' ') ?? 'n/a (run not finished)'}`);
  console.log(`copy bandwidth (one thread): ${rep.copyGBs.toFixed(1)} GB/s`);
  printRungs(rep);
  printWebGpu(rep);
  printSweeps(rep);
  printBrowserSweeps(rep);
}

/** Runs the scale benchmark and prints it; returns the exit code. */
export async function scaleMain(args: string[]): Promise<number> {
  const saved = arg(args, 'print', '');
  if (saved) {
    printReport(JSON.parse(fs.readFileSync(path.resolve(saved), 'utf8')));
    return 0;
  }
  const rungs = arg(args, 'rungs', 'mini,25m,100m,500m').split(',');
  const mid = arg(args, 'mid', '100m');
  const tokens = Number(arg(args, 'tokens', '32'));
  const quantized = arg(args, 'quantized', '500m').split(',');
  const rounds = Number(arg(args, 'rounds', '3'));
  const threads = Number(arg(args, 'threads', '1'));
  const jsonOut = arg(args, 'json', '');
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`SAYO Lens scale benchmark — ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
  console.log(`load average before: ${load()} (other work on the machine inflates every timing; ratios are taken within one process)`);
  const ladder = ensureLadder(rungs, quantized.some((r) => rungs.includes(r)));
  const threadRungs = arg(args, 'threads-ab', mid).split(',');
  const atImages = arg(args, 'images', '').split(',').filter((k) => k && k !== '100');
  for (const k of atImages) if (!(k in IMAGE_SIDES)) throw new Error(`--images ${k}: image-token counts are ${Object.keys(IMAGE_SIDES).join(', ')}`);
  const threadImages = arg(args, 'threads-images', '100').split(',');
  const copyGBs = copyBandwidthGBs();
  console.log(`copy bandwidth (one thread, 256 MB Float32Array.set, best of 5): ${copyGBs.toFixed(1)} GB/s — the limit column is this ÷ decoder bytes`);
  const img = await images();
  const rep: ScaleReport = {
    date: new Date().toISOString(),
    machine: { cpus: cpu, cores: os.cpus().length, memGiB: os.totalmem() / 2 ** 30, node: process.version },
    loadBefore: os.loadavg(),
    copyGBs,
    tokens,
    rounds,
    threads,
    rungs: [],
    imageTokens: [],
    lengths: [],
    threadsAB: [],
  };
  // The report is saved after every job, so an interrupted run keeps what it measured (`--print FILE` shows it).
  const save = () => {
    if (!jsonOut) return;
    fs.mkdirSync(path.dirname(path.resolve(ROOT, jsonOut)), { recursive: true });
    fs.writeFileSync(path.resolve(ROOT, jsonOut), JSON.stringify(rep, null, 1) + '\n');
  };
  // A light rung has no noattn view: its baseline is the same graph with nothing fetched.
  const memJobs = async (e: LadderEntry, image: string, dtype: Precision = 'fp32') => {
    const out: Record<string, MemoryResult | { error: string }> = {};
    const jobs = e.noattn
      ? ([['all', e.path, 'all'], ['last', e.path, 'last'], ['noattn', e.noattn, 'none']] as const)
      : ([['last', e.path, 'last'], ['none', e.path, 'none']] as const);
    for (const [k, model, capture] of jobs) {
      out[k] = await nodeJob<MemoryResult>({ kind: 'memory', model, image, question: QUESTION, tokens, threads, capture, dtype });
    }
    return out;
  };
  const units = ladder.flatMap((e) => [
    ...(args.includes('--quantized-only') && quantized.includes(e.rung) ? [] : [{ e, dtype: 'fp32' as Precision, label: e.rung }]),
    ...(quantized.includes(e.rung) ? quantizedUnits(e).map((dtype) => ({ e, dtype, label: `${e.rung} ${dtype}` })) : []),
  ]);
  const threadsOnly = args.includes('--threads-only');
  const sweeps = !args.includes('--skip-sweeps') && !threadsOnly;
  if (args.includes('--skip-node') && !threadsOnly) {
    for (const { e, dtype, label } of units) rep.rungs.push({ entry: e, dtype, label, weightBytes: weightBytesPerToken(e, dtype), memory: {}, browserMemory: {} });
  }
  for (const { e, dtype, label } of args.includes('--skip-rungs') || args.includes('--skip-node') || threadsOnly ? [] : units) {
    console.error(`… ${label}: Node`);
    const node = await nodeJob<DecodeResult>({ kind: 'decode', model: e.path, noattn: e.noattn ?? undefined, image: img['100'], question: QUESTION, tokens, rounds, threads, variants: variantsOf(e), dtype });
    const r: ScaleReport['rungs'][number] = { entry: e, dtype, label, weightBytes: weightBytesPerToken(e, dtype), node, memory: await memJobs(e, img['100'], dtype), browserMemory: {} };
    rep.rungs.push(r);
    save();
    for (const k of atImages) {
      console.error(`… ${label}: Node memory at ${k} image tokens`);
      (r.atImages ??= {})[k] = { node: await memJobs(e, img[k], dtype) };
      save();
    }
  }
  if (sweeps && !args.includes('--skip-node')) {
    const m = ladder.find((e) => e.rung === mid);
    if (m) {
      for (const k of ['100', '400', '1300']) {
        console.error(`… ${mid}: ${k} image tokens`);
        const node = await nodeJob<DecodeResult>({ kind: 'decode', model: m.path, noattn: m.noattn ?? undefined, image: img[k], question: QUESTION, tokens, rounds: Math.max(1, rounds - 1), threads, variants: ['last', 'noattn', 'tjs'], firstToken: false });
        rep.imageTokens.push({ rung: mid, tokens: k, node, memory: rep.rungs.find((r) => r.entry.rung === mid && k === '100')?.memory ?? (await memJobs(m, img[k])) });
        save();
      }
      for (const n of [32, 128, 512]) {
        console.error(`… ${mid}: ${n} new tokens`);
        rep.lengths.push({ rung: mid, tokens: n, node: await nodeJob<MemoryResult>({ kind: 'memory', model: m.path, image: img['100'], question: QUESTION, tokens: n, threads, capture: 'last' }) });
        save();
      }
    }
  }
  const threadLadder = ladder.filter((x) => threadRungs.includes(x.rung));
  if ((sweeps || threadsOnly) && !args.includes('--skip-node')) {
    for (const e of threadLadder) {
      for (const k of threadImages) {
        console.error(`… ${e.rung}: threads 1 vs 2, ${k} image tokens`);
        rep.threadsAB.push({ rung: e.rung, result: await nodeJob<ThreadsResult>({ kind: 'threads', model: e.path, image: img[k], question: QUESTION, tokens, rounds, threads: [1, 2] }) });
        save();
      }
    }
  }
  if (!args.includes('--skip-browser')) {
    const app = await startApp(Number(arg(args, 'app-port', String(APP_PORT))));
    const modelsDir = path.join(ROOT, 'models');
    const built = ladder.find((e) => !e.path.startsWith(modelsDir));
    const cacheDir = built ? path.dirname(built.path) : path.dirname(ladder[0].noattn!);
    const files = await serveFolder(cacheDir);
    const shipped = await serveFolder(modelsDir);
    const url = (p: string) => (p.startsWith(modelsDir) ? `${shipped.url}/${path.relative(modelsDir, p)}/` : `${files.url}/${path.relative(cacheDir, p)}/`);
    try {
      const b64 = fs.readFileSync(img['100']).toString('base64');
      for (const r of threadsOnly ? [] : rep.rungs) {
        const job = { appUrl: app.url, imageBase64: b64, question: QUESTION, tokens, rounds };
        const dtype = DTYPE(r.dtype);
        console.error(`… ${r.label}: Chromium`);
        if (!args.includes('--browser-memory-only')) {
          r.browser = await benchBrowserScale({ ...job, dtype, kind: 'decode', modelUrl: url(r.entry.path) });
          if (r.browser.error) continue; // the memory jobs would fail the same way
          r.browserMemory.last = await benchBrowserScale({ ...job, dtype, kind: 'memory', variant: 'last', modelUrl: url(r.entry.path) });
          r.browserMemory.none = await benchBrowserScale({ ...job, dtype, kind: 'memory', variant: 'none', modelUrl: url(r.entry.noattn ?? r.entry.path) });
          save();
        }
        for (const k of atImages) {
          console.error(`… ${r.label}: Chromium memory at ${k} image tokens`);
          const image = fs.readFileSync(img[k]).toString('base64');
          ((r.atImages ??= {})[k] ??= { node: {} }).browser = await benchBrowserScale({ ...job, imageBase64: image, dtype, kind: 'memory', variant: 'last', modelUrl: url(r.entry.path) });
          save();
        }
      }
      const extra = { rep, appUrl: app.url, url, img, tokens, rounds, save };
      if (!threadsOnly) await browserWebGpuRows(extra, webgpuRungs(args), Number(arg(args, 'webgpu-tokens', String(Math.min(tokens, WEBGPU_TOKENS)))));
      if (sweeps) await browserSweeps(extra, ladder.find((e) => e.rung === mid));
      for (const e of sweeps || threadsOnly ? threadLadder : []) {
        for (const k of threadImages) {
          console.error(`… ${e.rung}: Chromium threads 1 vs 2, ${k} image tokens`);
          const imageBase64 = fs.readFileSync(img[k]).toString('base64');
          const result = await benchBrowserScale({ appUrl: app.url, imageBase64, question: QUESTION, tokens, rounds, kind: 'threads', threads: [1, 2], modelUrl: url(e.path) });
          (rep.browserThreadsAB ??= []).push({ rung: e.rung, images: k, result });
          save();
        }
      }
    } finally {
      app.stop();
      await files.close();
      await shipped.close();
    }
  }
  rep.loadAfter = os.loadavg();
  printRungs(rep);
  printWebGpu(rep);
  printSweeps(rep);
  printBrowserSweeps(rep);
  console.log(`\nload average after: ${load()}`);
  console.log('Columns: tok/s = decode tokens/s after the first token; all/last/none = layers captured by our loop; noattn = the same');
  console.log('weights with a decoder that has no attention outputs; tjs gen = transformers.js generate() on the same folder (tjs+attn:');
  console.log('output_attentions; Chromium: in a worker of its own with the engine\'s WASM threads); limit = copy bandwidth ÷ decoder');
  console.log('bytes (tokens/s if decode only streamed the weights once);');
  console.log('B/tok = bytes of one StepRecord posted by the worker; peak MB = the job process\'s peak RSS (Chromium: its whole process tree).');
  save();
  if (jsonOut) console.log(`wrote ${jsonOut}`);
  return 0;
}
