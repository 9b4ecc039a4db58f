/**
 * @file The scale benchmark in headless Chromium (WASM): a ladder rung loaded by URL from a loopback file server (the
 * way a user's real checkpoint arrives), through the app's worker engine on the harness page. One browser per job, so
 * its peak RSS — summed over the browser's whole process tree — belongs to that job alone.
 *
 * Jobs: `decode` (timings, capture A/B: our loop capturing all layers / the last layer / none, interleaved round-robin
 * with transformers.js's own generate() on the same folder without and with output_attentions — the runner Node uses,
 * in a worker of its own on the engine's WASM threads: lab/support/tjs-worker.ts), `memory` (one answer, peak RSS) and
 * `threads`: onnxruntime-web's WASM thread pool at each thread count, one engine worker per count in the same page (a
 * worker's pool is sized by its first model), interleaved round by round with the order reversed every other round,
 * capture last layer, medians. It needs the app cross-origin isolated (COOP/COEP from the preview server); the result
 * says whether it was and how many threads each worker really ran. `images` and `length` are the mid rung's sweeps
 * (sweepJob); benchBrowserWebGpu runs `decode` on WebGPU (our variants only) and records the page's adapter.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.ts';
import type { HarnessOptions, HarnessRun } from '../support/harness-page.ts';
import os from 'node:os';
import { decodeTps, median } from '../support/stats.ts';

/** Serves `root` read-only on a loopback port with CORS (the page and the models are on different origins). */
export async function serveFolder(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, path.normalize(rel));
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * RSS (MB) of the Chromium process tree started by this Node process: every descendant of `process.pid` whose command
 * line names the Chromium binary (browser, renderers, GPU and utility processes; the renderers do not inherit the
 * browser's own flags, so a marker flag would miss them).
 */
export function chromiumTreeRssMb(): number {
  return chromiumRss().treeMb;
}

/** RSS (MB) of the Chromium tree and of its largest process (the renderer that holds the worker's WASM heap). */
export function chromiumRss(): { treeMb: number; largestMb: number } {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended while we read it
    }
  }
  const ours = (pid: number) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  let kb = 0;
  let largest = 0;
  for (const pid of parent.keys()) {
    if (!ours(pid)) continue;
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chrom')) continue;
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
      largest = Math.max(largest, m ? Number(m[1]) : 0);
    } catch {
      // the process ended while we read it
    }
  }
  return { treeMb: kb / 1024, largestMb: largest / 1024 };
}

/**
 * A 'decode' job's variants: our loop capturing all layers / the last layer / none (the engine worker), and
 * transformers.js's own generate() without and with output_attentions (lab/support/tjs-worker.ts, a worker of its own).
 */
export type BrowserVariant = 'all' | 'last' | 'none' | 'tjs' | 'tjs-attn';
export const BROWSER_VARIANTS: BrowserVariant[] = ['all', 'last', 'none', 'tjs', 'tjs-attn'];

/** One variant's figures in one round. */
interface RoundFigures {
  prefillMs: number;
  decodeTps: number;
  bytesPerToken?: number;
}

export interface BrowserScaleJob {
  appUrl: string;
  /** URL of the model folder (attention decoder) and of its noattn view. */
  modelUrl: string;
  imageBase64: string;
  question: string;
  tokens: number;
  rounds: number;
  /** 'decode': timings, A/B capture; 'memory': one answer with one variant, peak RSS; 'threads': 1 vs 2 threads A/B;
   * 'images' and 'length': the mid rung's sweeps (sweepJob). */
  kind: 'decode' | 'memory' | 'threads' | 'images' | 'length';
  /** The backend the worker engine loads on (default 'wasm'; 'webgpu' through benchBrowserWebGpu). */
  backend?: 'wasm' | 'webgpu';
  variant?: 'all' | 'last' | 'none';
  /** 'decode': the variants interleaved in each round (default: all of BROWSER_VARIANTS). */
  variants?: BrowserVariant[];
  dtype?: HarnessOptions['dtype'];
  /** 'threads': the thread counts compared (default [1, 2]). */
  threads?: number[];
}

/** A `threads` job's figures per thread count: medians over the rounds, and every round (the spread). */
export interface BrowserThreads {
  /** Threads the worker's ONNX Runtime really ran (ModelInfo.threads), and why fewer when so. */
  inUse: number;
  note?: string;
  prefillMs: number;
  decodeTps: number;
  rounds: Array<{ prefillMs: number; decodeTps: number }>;
}

export interface BrowserScaleResult {
  error?: string;
  firstTokenColdMs?: number;
  firstTokenWarmMs?: number;
  /** 'decode': medians by variant (BrowserVariant; files saved before the tjs variants have all / last / none). */
  prefillMs?: Record<string, number>;
  decodeTps?: Record<string, number>;
  /** Our variants only (transformers.js posts no records). */
  bytesPerToken?: Record<string, number>;
  /** 'decode': decode tok/s of every round by variant, in round order (a round runs every variant back to back). */
  roundsTps?: Record<string, number[]>;
  /** 'decode': WASM threads of the engine worker, and of the transformers.js worker (asked the same; `tjsThreadsNote`
   * says why fewer when so). */
  threads?: number;
  tjsThreads?: number;
  tjsThreadsNote?: string;
  /** 'decode': why transformers.js generate() could not run (our figures are still there). */
  tjsError?: string;
  /** Peak RSS of the browser's process tree (a 'decode' job: both workers, ours and transformers.js's). */
  peakRssMb: number;
  /** Peak RSS of the largest single Chromium process (the worker's renderer: an upper bound of its WASM heap). */
  largestProcessMb?: number;
  /** 'threads': whether the page was cross-origin isolated, the image tokens, the figures by thread count. */
  isolated?: boolean;
  imageTokens?: number;
  byThreads?: Record<string, BrowserThreads>;
  /** Load average (1, 5, 15 min) when the job started and ended. */
  load?: { before: number[]; after: number[] };
  /** A WebGPU job: the adapter the harness page got (or why it got none). */
  adapter?: PageAdapter;
  /** 'images' / 'length': the prompt's tokens (image tokens in `imageTokens`). */
  promptTokens?: number;
  /** 'length': [steps the page had received, tree RSS MB, largest process MB] at the first step and every 128 steps. */
  rssAt?: Array<[number, number, number]>;
}

/** The WebGPU adapter as the harness page sees it; `why` when there is none. */
export interface PageAdapter {
  available: boolean;
  vendor?: string;
  architecture?: string;
  isFallbackAdapter?: boolean;
  why?: string;
}

const run = (page: Page, o: HarnessOptions): Promise<HarnessRun> =>
  page.evaluate((opts) => window.sayoHarness.run(opts), o);

function stepBytes(r: HarnessRun): number {
  const s = r.steps;
  const b = s.reduce(
    (t, x) =>
      t +
      4 * (x.attention.length + x.imageShare.length + x.rowSum.length) +
      new TextEncoder().encode(x.text).length +
      40,
    0,
  );
  return s.length ? b / s.length : NaN;
}

/** The `threads` job on an open harness page: one engine worker per thread count, interleaved rounds. */
async function threadsAB(
  page: Page,
  job: BrowserScaleJob,
  base: HarnessOptions,
): Promise<Omit<BrowserScaleResult, 'peakRssMb'>> {
  const before = os.loadavg();
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  const counts = job.threads ?? [1, 2];
  const opts = (t: number, layer?: number): HarnessOptions => ({
    ...base,
    slot: `threads-${t}`,
    threads: t,
    reuse: true,
    maxNewTokens: job.tokens,
    minNewTokens: job.tokens,
    captureLayers: layer === undefined ? [] : [layer],
  });
  const last = new Map<number, number | undefined>();
  const byThreads: Record<string, BrowserThreads> = {};
  let imageTokens: number | undefined;
  // Load each worker and warm it up with one full answer (its pool is sized by this first load).
  for (const t of counts) {
    const r = await run(page, { ...base, slot: `threads-${t}`, threads: t, reuse: false });
    if (r.error) return { error: `${t} thread(s): ${r.error.code}: ${r.error.message}`, isolated };
    last.set(t, r.info.attentionLayers.at(-1));
    byThreads[t] = {
      inUse: r.info.threads ?? NaN,
      note: r.info.threadsNote,
      prefillMs: NaN,
      decodeTps: NaN,
      rounds: [],
    };
    await run(page, opts(t, last.get(t)));
  }
  for (let i = 0; i < job.rounds; i++) {
    for (const t of i % 2 ? [...counts].reverse() : counts) {
      const r = await run(page, opts(t, last.get(t)));
      if (r.error || !r.summary) return { error: `${t} thread(s): ${r.error?.code}: ${r.error?.message}`, isolated };
      imageTokens = r.prompt?.imageSpan.length;
      const s = r.summary;
      byThreads[t].rounds.push({ prefillMs: s.prefillMs, decodeTps: decodeTps(s.tokens, s.decodeMs) });
    }
  }
  for (const v of Object.values(byThreads)) {
    v.prefillMs = median(v.rounds.map((r) => r.prefillMs));
    v.decodeTps = median(v.rounds.map((r) => r.decodeTps));
  }
  return { isolated, imageTokens, byThreads, load: { before, after: os.loadavg() } };
}

/** One browser, one job. */
export async function benchBrowserScale(job: BrowserScaleJob): Promise<BrowserScaleResult> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  let peak = 0;
  let largest = 0;
  const sample = () => {
    const r = chromiumRss();
    peak = Math.max(peak, r.treeMb);
    largest = Math.max(largest, r.largestMb);
    return { peakRssMb: peak, largestProcessMb: largest };
  };
  const timer = setInterval(sample, 200);
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${job.appUrl}/e2e-harness.html`);
    await page.waitForFunction(() => 'sayoHarness' in window);
    const base: HarnessOptions = {
      source: { kind: 'url', url: job.modelUrl },
      backend: job.backend ?? 'wasm',
      dtype: job.dtype,
      imageBase64: job.imageBase64,
      question: job.question,
      maxNewTokens: 1,
    };
    if (job.kind === 'threads') return { ...(await threadsAB(page, job, base)), ...sample() };
    if (job.kind === 'images' || job.kind === 'length') return { ...(await sweepJob(page, job, base)), ...sample() };
    const cold = await run(page, base);
    if (cold.error) return { error: `${cold.error.code}: ${cold.error.message}`, ...sample() };
    const layers = cold.info.attentionLayers;
    const capture = { all: undefined, last: layers.length ? [layers[layers.length - 1]] : [], none: [] } as const;
    const long = { ...base, reuse: true, maxNewTokens: job.tokens, minNewTokens: job.tokens };
    if (job.kind === 'memory') {
      const r = await run(page, { ...long, captureLayers: capture[job.variant ?? 'last'] as number[] | undefined });
      return r.error ? { error: `${r.error.code}: ${r.error.message}`, ...sample() } : sample();
    }
    const warm = [await run(page, { ...base, reuse: true }), await run(page, { ...base, reuse: true })];
    // Our variants through the engine worker; transformers.js's generate() in a worker of its own, on the same folder,
    // dtype and WASM threads (the engine's, as it ran them).
    const ours = async (v: 'all' | 'last' | 'none'): Promise<RoundFigures> => {
      const r = await run(page, { ...long, captureLayers: capture[v] as number[] | undefined });
      if (r.error || !r.summary) throw new Error(`${r.error?.code}: ${r.error?.message}`);
      return {
        prefillMs: r.summary.prefillMs,
        decodeTps: decodeTps(r.summary.tokens, r.summary.decodeMs),
        bytesPerToken: stepBytes(r),
      };
    };
    const tjsOptions = {
      url: job.modelUrl,
      dtype: job.dtype,
      threads: cold.info.threads ?? 1,
      imageBase64: job.imageBase64,
      question: job.question,
      tokens: job.tokens,
    };
    let tjsThreads: Pick<BrowserScaleResult, 'tjsThreads' | 'tjsThreadsNote'> = {};
    const tjs = async (attentions: boolean): Promise<RoundFigures> => {
      const r = await page.evaluate((o) => window.sayoHarness.tjs(o), { ...tjsOptions, attentions });
      const what = `transformers.js generate()${attentions ? ' with attentions' : ''}`;
      if (r.error || !r.figures) throw new Error(`${what}: ${r.error ?? 'no figures'}`);
      if (r.figures.tokens !== job.tokens)
        throw new Error(`${what}: ${r.figures.tokens} tokens where ${job.tokens} were forced`);
      tjsThreads = { tjsThreads: r.threads, tjsThreadsNote: r.note };
      return r.figures;
    };
    const runners: Record<BrowserVariant, () => Promise<RoundFigures>> = {
      all: () => ours('all'),
      last: () => ours('last'),
      none: () => ours('none'),
      tjs: () => tjs(false),
      'tjs-attn': () => tjs(true),
    };
    let names = job.variants ?? BROWSER_VARIANTS;
    // transformers.js loads (its first call) and warms up here, once per variant, as in Node; a model it cannot run
    // leaves our figures standing, with its error.
    let tjsError: string | undefined;
    for (const v of names.filter((x) => x === 'tjs' || x === 'tjs-attn')) {
      await runners[v]().catch((e: Error) => (tjsError ??= e.message.split('\n')[0]));
    }
    if (tjsError) names = names.filter((x) => x !== 'tjs' && x !== 'tjs-attn');
    const prefill: Record<string, number[]> = {};
    const decode: Record<string, number[]> = {};
    const bytes: Record<string, number[]> = {};
    for (let i = 0; i < job.rounds; i++) {
      // Round-robin with the order rotated each round: no variant always runs first or last.
      for (let k = 0; k < names.length; k++) {
        const v = names[(k + i) % names.length];
        const r = await runners[v]();
        (prefill[v] ??= []).push(r.prefillMs);
        (decode[v] ??= []).push(r.decodeTps);
        if (r.bytesPerToken !== undefined) (bytes[v] ??= []).push(r.bytesPerToken);
      }
    }
    const peaks = sample();
    const med = (o: Record<string, number[]>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, median(v)]));
    return {
      firstTokenColdMs: cold.firstStepSincePageStart,
      firstTokenWarmMs: median(warm.map((r) => r.firstStepMs ?? NaN)),
      prefillMs: med(prefill),
      decodeTps: med(decode),
      bytesPerToken: med(bytes),
      roundsTps: decode,
      threads: cold.info.threads,
      ...tjsThreads,
      tjsError,
      ...peaks,
    };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0], ...sample() };
  } finally {
    clearInterval(timer);
    await browser.close();
  }
}

/** The harness page's WebGPU adapter, in a browser of its own launched as every job's (the same flags unless given). */
export async function pageAdapter(appUrl: string, args = CHROMIUM_ARGS): Promise<PageAdapter> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${appUrl}/e2e-harness.html`);
    await page.waitForFunction(() => 'sayoHarness' in window);
    const a = await page.evaluate(async () => ({
      ...(await window.sayoHarness.adapter()),
      hasGpu: 'gpu' in navigator && !!navigator.gpu,
    }));
    const why = a.available
      ? undefined
      : a.hasGpu
        ? 'navigator.gpu.requestAdapter() returned no adapter'
        : 'navigator.gpu is missing (is --enable-unsafe-webgpu in CHROMIUM_ARGS?)';
    return {
      available: a.available,
      vendor: a.vendor,
      architecture: a.architecture,
      isFallbackAdapter: a.isFallbackAdapter,
      why,
    };
  } catch (e) {
    return { available: false, why: `the harness page did not answer: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await browser.close();
  }
}

/**
 * The `decode` job on WebGPU: the page's adapter first, then the job with backend 'webgpu' (the engine refuses a
 * requested WebGPU it cannot get, so a row is WebGPU or says why not). The load average at its start and end.
 */
export async function benchBrowserWebGpu(job: Omit<BrowserScaleJob, 'kind' | 'backend'>): Promise<BrowserScaleResult> {
  const before = os.loadavg();
  const adapter = await pageAdapter(job.appUrl);
  if (!adapter.available)
    return {
      error: `no WebGPU adapter: ${adapter.why}`,
      adapter,
      peakRssMb: NaN,
      load: { before, after: os.loadavg() },
    };
  // Our variants only: the transformers.js worker runs WASM, so it is no anchor for a WebGPU row.
  const r = await benchBrowserScale({ ...job, kind: 'decode', backend: 'webgpu', variants: ['all', 'last', 'none'] });
  return { ...r, adapter, load: { before, after: os.loadavg() } };
}

/** Steps the harness page has received so far (its live counter, over all runs). */
const liveSteps = (page: Page) => page.evaluate(() => window.sayoHarnessLive.steps);

/**
 * The mid rung's sweeps on an open harness page, after one cold answer that loads the model:
 * - `images`: capture last layer / none, interleaved over the rounds (rotated order), after one warm answer; medians.
 * - `length`: one forced-length answer capturing the last layer while Node polls the page's step counter and samples
 *   the Chromium tree's RSS at the first step and every 128 steps (the step seen may run a few past the mark).
 */
async function sweepJob(
  page: Page,
  job: BrowserScaleJob,
  base: HarnessOptions,
): Promise<Omit<BrowserScaleResult, 'peakRssMb'>> {
  const before = os.loadavg();
  const fail = (r: HarnessRun) => ({
    error: `${r.error?.code}: ${r.error?.message}`,
    load: { before, after: os.loadavg() },
  });
  const cold = await run(page, base);
  if (cold.error) return fail(cold);
  const last = cold.info.attentionLayers.at(-1);
  const capture = { last: last === undefined ? [] : [last], none: [] };
  const long = { ...base, reuse: true, maxNewTokens: job.tokens, minNewTokens: job.tokens };
  const tps = (r: HarnessRun) => (r.summary ? decodeTps(r.summary.tokens, r.summary.decodeMs) : NaN);
  const prompt = (r: HarnessRun) => ({ imageTokens: r.prompt?.imageSpan.length, promptTokens: r.prompt?.promptTokens });
  if (job.kind === 'length') {
    const start = await liveSteps(page);
    const rssAt: Array<[number, number, number]> = [];
    let mark = 1;
    const sampleAt = (n: number) => {
      if (n < mark) return;
      const m = chromiumRss();
      rssAt.push([n, m.treeMb, m.largestMb]);
      mark = (Math.floor(n / 128) + 1) * 128;
    };
    let done = false;
    const answer = run(page, { ...long, captureLayers: capture.last }).finally(() => (done = true));
    while (!done) {
      sampleAt((await liveSteps(page)) - start);
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await answer;
    if (r.error || !r.summary) return fail(r);
    sampleAt(r.steps.length); // a last mark the poll missed (sampled just after the answer)
    return {
      ...prompt(r),
      prefillMs: { last: r.summary.prefillMs },
      decodeTps: { last: tps(r) },
      rssAt,
      load: { before, after: os.loadavg() },
    };
  }
  await run(page, { ...base, reuse: true });
  const names = ['last', 'none'] as const;
  const prefill: Record<string, number[]> = {};
  const decode: Record<string, number[]> = {};
  let r = cold;
  for (let i = 0; i < job.rounds; i++) {
    for (let k = 0; k < names.length; k++) {
      const v = names[(k + i) % names.length];
      r = await run(page, { ...long, captureLayers: capture[v] });
      if (r.error || !r.summary) return fail(r);
      (prefill[v] ??= []).push(r.summary.prefillMs);
      (decode[v] ??= []).push(tps(r));
    }
  }
  const med = (o: Record<string, number[]>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, median(v)]));
  return { ...prompt(r), prefillMs: med(prefill), decodeTps: med(decode), load: { before, after: os.loadavg() } };
}
