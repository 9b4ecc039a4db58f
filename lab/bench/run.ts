/**
 * @file The scale benchmark's run (`npm run bench -- --scale`; `--help` lists every option): per rung, in Node
 * (onnxruntime-node, one process per job, lab/bench/scale-node.ts) and in headless Chromium (WASM, one browser per
 * job, lab/bench/scale-browser.ts): prefill, decode tokens/s over a forced length, capture cost (interleaved A/B: all
 * layers / last layer / none / the same weights without attention outputs), bytes per token crossing the worker, peak
 * memory, first token cold and warm, transformers.js's own generate() on the same folder, and the memory-bandwidth
 * limit (decoder weight bytes per token ÷ measured copy bandwidth). At the mid rung also ~100 / ~400 / ~1,300 image
 * tokens and 32 / 128 / 512 generated tokens (RSS per 128 tokens), and ONNX Runtime intra-op threads 1 vs 2,
 * interleaved, in Node and in Chromium. WebGPU rows on request. Printed, never asserted; the machine's load average is
 * printed beside every table. The report is saved after every job (`--json FILE`), so an interrupted run keeps what it
 * measured.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp } from './app.ts';
import {
  copyBandwidthGBs,
  ensureLadder,
  IMAGE_SIDES,
  images,
  QUESTION,
  quantizedUnits,
  ROOT,
  variantsOf,
  weightBytesPerToken,
  type LadderEntry,
} from './ladder.ts';
import { printColumns, printTables } from './print.ts';
import { load, type ScaleReport } from './report.ts';
import { benchBrowserScale, benchBrowserWebGpu, serveFolder, type BrowserScaleResult } from './scale-browser.ts';
import {
  DTYPE,
  type DecodeResult,
  type MemoryResult,
  type Precision,
  type ScaleJob,
  type ScaleResult,
  type ThreadsResult,
} from './scale-node.ts';

/** The options of a scale run, as the command line gives them (lab/bench/cli.ts has their help). */
export interface ScaleOptions {
  rungs: string;
  quantized: string;
  quantizedOnly?: boolean;
  mid: string;
  tokens: number;
  rounds: number;
  threads: number;
  threadsAb?: string;
  threadsImages: string;
  threadsOnly?: boolean;
  images?: string;
  skipRungs?: boolean;
  skipNode?: boolean;
  skipBrowser?: boolean;
  skipSweeps?: boolean;
  browserMemoryOnly?: boolean;
  webgpu?: string;
  webgpuTokens?: number;
  appPort: number;
  json?: string;
  verbose?: boolean;
}

/** Runs one Node job in a fresh process. */
export function nodeJob<T extends ScaleResult>(job: ScaleJob): Promise<T | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'lab/bench/scale-node.ts'), JSON.stringify(job)],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('SCALE_RESULT '));
      if (line) resolve(JSON.parse(line.slice('SCALE_RESULT '.length)));
      else
        resolve({
          error: `exit ${code}: ${err.trim().split('\n').filter(Boolean).slice(-3).join(' | ').slice(0, 400)}`,
        });
    });
  });
}

/** Forced new tokens of a WebGPU row unless `--webgpu-tokens` says otherwise (at most `--tokens`): this machine's
 * adapter is SwiftShader, WebGPU emulated on the CPU. */
const WEBGPU_TOKENS = 8;

/**
 * Rungs of the WebGPU rows: `--webgpu a,b`; none by default. The only adapter here and in CI is SwiftShader, WebGPU
 * emulated on the CPU: its rows measure the emulation, not the engine on a GPU (the engine's WebGPU path is checked by
 * e2e/engine.spec.ts), and they are long — the 25m decode job alone, with `--rounds 1`, spends minutes in prefills.
 */
export function webgpuRungs(asked = 'none'): string[] {
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
    if (!units.length)
      (b.rep.browserWebGpu ??= []).push({
        rung,
        label: rung,
        tokens,
        result: { error: 'not a rung of this run (--rungs)', peakRssMb: NaN },
      });
    for (const r of units) {
      console.error(`… ${r.label}: Chromium WebGPU, ${tokens} tokens`);
      const result = await benchBrowserWebGpu({
        appUrl: b.appUrl,
        imageBase64,
        question: QUESTION,
        tokens,
        rounds: b.rounds,
        dtype: DTYPE(r.dtype),
        modelUrl: b.url(r.entry.path),
      });
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
    const result = await benchBrowserScale({
      ...job,
      imageBase64,
      tokens: b.tokens,
      rounds: Math.max(1, b.rounds - 1),
      kind: 'images',
    });
    // At ~100 image tokens the rung's own memory jobs are these (when the rung ran in Chromium in fp32).
    const own =
      k === '100' ? b.rep.rungs.find((r) => r.entry.rung === m.rung && r.dtype === 'fp32')?.browserMemory : undefined;
    const memory: Record<string, BrowserScaleResult> = own?.last && own.none ? own : {};
    if (!own?.last || !own.none) {
      memory.last = await benchBrowserScale({
        ...job,
        imageBase64,
        tokens: b.tokens,
        rounds: 1,
        kind: 'memory',
        variant: 'last',
      });
      memory.none = await benchBrowserScale({
        ...job,
        imageBase64,
        tokens: b.tokens,
        rounds: 1,
        kind: 'memory',
        variant: 'none',
        modelUrl: b.url(m.noattn ?? m.path),
      });
    }
    (b.rep.browserImageTokens ??= []).push({ rung: m.rung, tokens: k, result, memory });
    b.save();
  }
  const imageBase64 = fs.readFileSync(b.img['100']).toString('base64');
  for (const n of [32, 128, 512]) {
    console.error(`… ${m.rung}: Chromium, ${n} new tokens`);
    (b.rep.browserLengths ??= []).push({
      rung: m.rung,
      tokens: n,
      result: await benchBrowserScale({ ...job, imageBase64, tokens: n, rounds: 1, kind: 'length' }),
    });
    b.save();
  }
}

/** One scale run: its options, what they imply, the ladder and images, and the report being filled (saved after every
 * job, so an interrupted run keeps what it measured: `--print FILE` shows it). */
interface ScaleRun {
  o: ScaleOptions;
  ladder: LadderEntry[];
  img: Record<string, string>;
  rep: ScaleReport;
  save: () => void;
  tokens: number;
  rounds: number;
  threads: number;
  mid: string;
  quantized: string[];
  /** Image-token counts beyond ~100 measured for peak memory (`--images`). */
  atImages: string[];
  threadImages: string[];
  threadLadder: LadderEntry[];
  threadsOnly: boolean;
  sweeps: boolean;
}

/** Peak memory of a rung capturing all layers / the last one / none (a light rung has no noattn view: its baseline is
 * the same graph with nothing fetched). */
async function memJobs(run: ScaleRun, e: LadderEntry, image: string, dtype: Precision = 'fp32') {
  const out: Record<string, MemoryResult | { error: string }> = {};
  const jobs = e.noattn
    ? ([
        ['all', e.path, 'all'],
        ['last', e.path, 'last'],
        ['noattn', e.noattn, 'none'],
      ] as const)
    : ([
        ['last', e.path, 'last'],
        ['none', e.path, 'none'],
      ] as const);
  for (const [k, model, capture] of jobs) {
    out[k] = await nodeJob<MemoryResult>({
      kind: 'memory',
      model,
      image,
      question: QUESTION,
      tokens: run.tokens,
      threads: run.threads,
      capture,
      dtype,
    });
  }
  return out;
}

/** Node: every rung in each precision asked (decode variants, peak memory, peak memory at more image tokens). With
 * --skip-node the rungs are listed for the Chromium jobs without running anything. */
async function nodeRungs(run: ScaleRun): Promise<void> {
  const { o, ladder, img, rep, save, tokens, rounds, threads, quantized, atImages, threadsOnly } = run;
  const units = ladder.flatMap((e) => [
    ...(o.quantizedOnly && quantized.includes(e.rung) ? [] : [{ e, dtype: 'fp32' as Precision, label: e.rung }]),
    ...(quantized.includes(e.rung)
      ? quantizedUnits(e).map((dtype) => ({ e, dtype, label: `${e.rung} ${dtype}` }))
      : []),
  ]);
  if (o.skipNode && !threadsOnly) {
    for (const { e, dtype, label } of units)
      rep.rungs.push({
        entry: e,
        dtype,
        label,
        weightBytes: weightBytesPerToken(e, dtype),
        memory: {},
        browserMemory: {},
      });
  }
  for (const { e, dtype, label } of o.skipRungs || o.skipNode || threadsOnly ? [] : units) {
    console.error(`… ${label}: Node`);
    const node = await nodeJob<DecodeResult>({
      kind: 'decode',
      model: e.path,
      noattn: e.noattn ?? undefined,
      image: img['100'],
      question: QUESTION,
      tokens,
      rounds,
      threads,
      variants: variantsOf(e),
      dtype,
    });
    const r: ScaleReport['rungs'][number] = {
      entry: e,
      dtype,
      label,
      weightBytes: weightBytesPerToken(e, dtype),
      node,
      memory: await memJobs(run, e, img['100'], dtype),
      browserMemory: {},
    };
    rep.rungs.push(r);
    save();
    for (const k of atImages) {
      console.error(`… ${label}: Node memory at ${k} image tokens`);
      (r.atImages ??= {})[k] = { node: await memJobs(run, e, img[k], dtype) };
      save();
    }
  }
}

/** Node sweeps at the mid rung (~100 / ~400 / ~1,300 image tokens; 32 / 128 / 512 new tokens), then the threads A/B. */
async function nodeSweeps(run: ScaleRun): Promise<void> {
  const { o, ladder, img, rep, save, tokens, rounds, threads, mid, threadImages, threadLadder, threadsOnly, sweeps } =
    run;
  if (o.skipNode) return;
  const m = sweeps ? ladder.find((e) => e.rung === mid) : undefined;
  if (m) {
    for (const k of ['100', '400', '1300']) {
      console.error(`… ${mid}: ${k} image tokens`);
      const node = await nodeJob<DecodeResult>({
        kind: 'decode',
        model: m.path,
        noattn: m.noattn ?? undefined,
        image: img[k],
        question: QUESTION,
        tokens,
        rounds: Math.max(1, rounds - 1),
        threads,
        variants: ['last', 'noattn', 'tjs'],
        firstToken: false,
      });
      rep.imageTokens.push({
        rung: mid,
        tokens: k,
        node,
        memory: rep.rungs.find((r) => r.entry.rung === mid && k === '100')?.memory ?? (await memJobs(run, m, img[k])),
      });
      save();
    }
    for (const n of [32, 128, 512]) {
      console.error(`… ${mid}: ${n} new tokens`);
      rep.lengths.push({
        rung: mid,
        tokens: n,
        node: await nodeJob<MemoryResult>({
          kind: 'memory',
          model: m.path,
          image: img['100'],
          question: QUESTION,
          tokens: n,
          threads,
          capture: 'last',
        }),
      });
      save();
    }
  }
  for (const e of sweeps || threadsOnly ? threadLadder : []) {
    for (const k of threadImages) {
      console.error(`… ${e.rung}: threads 1 vs 2, ${k} image tokens`);
      rep.threadsAB.push({
        rung: e.rung,
        result: await nodeJob<ThreadsResult>({
          kind: 'threads',
          model: e.path,
          image: img[k],
          question: QUESTION,
          tokens,
          rounds,
          threads: [1, 2],
        }),
      });
      save();
    }
  }
}

/** Chromium: the app built and previewed, the model folders served by URL; per rung decode and memory, then the WebGPU
 * rows, the sweeps and the threads A/B. */
async function browserJobs(run: ScaleRun): Promise<void> {
  const { o, ladder, img, rep, save, tokens, rounds, mid, atImages, threadImages, threadLadder, threadsOnly, sweeps } =
    run;
  const app = await startApp(o.appPort);
  const modelsDir = path.join(ROOT, 'models');
  const built = ladder.find((e) => !e.path.startsWith(modelsDir));
  const cacheDir = built ? path.dirname(built.path) : path.dirname(ladder[0].noattn!);
  const files = await serveFolder(cacheDir);
  const shipped = await serveFolder(modelsDir);
  const url = (p: string) =>
    p.startsWith(modelsDir)
      ? `${shipped.url}/${path.relative(modelsDir, p)}/`
      : `${files.url}/${path.relative(cacheDir, p)}/`;
  try {
    const b64 = fs.readFileSync(img['100']).toString('base64');
    for (const r of threadsOnly ? [] : rep.rungs) {
      const job = { appUrl: app.url, imageBase64: b64, question: QUESTION, tokens, rounds };
      const dtype = DTYPE(r.dtype);
      console.error(`… ${r.label}: Chromium`);
      if (!o.browserMemoryOnly) {
        r.browser = await benchBrowserScale({ ...job, dtype, kind: 'decode', modelUrl: url(r.entry.path) });
        if (r.browser.error) continue; // the memory jobs would fail the same way
        r.browserMemory.last = await benchBrowserScale({
          ...job,
          dtype,
          kind: 'memory',
          variant: 'last',
          modelUrl: url(r.entry.path),
        });
        r.browserMemory.none = await benchBrowserScale({
          ...job,
          dtype,
          kind: 'memory',
          variant: 'none',
          modelUrl: url(r.entry.noattn ?? r.entry.path),
        });
        save();
      }
      for (const k of atImages) {
        console.error(`… ${r.label}: Chromium memory at ${k} image tokens`);
        const image = fs.readFileSync(img[k]).toString('base64');
        ((r.atImages ??= {})[k] ??= { node: {} }).browser = await benchBrowserScale({
          ...job,
          imageBase64: image,
          dtype,
          kind: 'memory',
          variant: 'last',
          modelUrl: url(r.entry.path),
        });
        save();
      }
    }
    const extra = { rep, appUrl: app.url, url, img, tokens, rounds, save };
    if (!threadsOnly)
      await browserWebGpuRows(extra, webgpuRungs(o.webgpu), o.webgpuTokens ?? Math.min(tokens, WEBGPU_TOKENS));
    if (sweeps)
      await browserSweeps(
        extra,
        ladder.find((e) => e.rung === mid),
      );
    for (const e of sweeps || threadsOnly ? threadLadder : []) {
      for (const k of threadImages) {
        console.error(`… ${e.rung}: Chromium threads 1 vs 2, ${k} image tokens`);
        const imageBase64 = fs.readFileSync(img[k]).toString('base64');
        const result = await benchBrowserScale({
          appUrl: app.url,
          imageBase64,
          question: QUESTION,
          tokens,
          rounds,
          kind: 'threads',
          threads: [1, 2],
          modelUrl: url(e.path),
        });
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

/** Runs the scale benchmark and prints it; returns the exit code. */
export async function runScale(o: ScaleOptions): Promise<number> {
  const rungs = o.rungs.split(',');
  const quantized = o.quantized.split(',');
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `SAYO Lens scale benchmark — ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  );
  console.log(
    `load average before: ${load()} (other work on the machine inflates every timing; ratios are taken within one process)`,
  );
  const ladder = ensureLadder(rungs, { quantized: quantized.some((r) => rungs.includes(r)), verbose: o.verbose });
  const atImages = (o.images ?? '').split(',').filter((k) => k && k !== '100');
  for (const k of atImages)
    if (!(k in IMAGE_SIDES))
      throw new Error(`--images ${k}: image-token counts are ${Object.keys(IMAGE_SIDES).join(', ')}`);
  const copyGBs = copyBandwidthGBs();
  console.log(
    `copy bandwidth (one thread, 256 MB Float32Array.set, best of 5): ${copyGBs.toFixed(1)} GB/s — the limit column is this ÷ decoder bytes`,
  );
  const rep: ScaleReport = {
    date: new Date().toISOString(),
    machine: { cpus: cpu, cores: os.cpus().length, memGiB: os.totalmem() / 2 ** 30, node: process.version },
    loadBefore: os.loadavg(),
    copyGBs,
    tokens: o.tokens,
    rounds: o.rounds,
    threads: o.threads,
    rungs: [],
    imageTokens: [],
    lengths: [],
    threadsAB: [],
  };
  const json = o.json ? path.resolve(ROOT, o.json) : undefined;
  const save = () => {
    if (!json) return;
    fs.mkdirSync(path.dirname(json), { recursive: true });
    fs.writeFileSync(json, JSON.stringify(rep, null, 1) + '\n');
  };
  const threadRungs = (o.threadsAb ?? o.mid).split(',');
  const run: ScaleRun = {
    o,
    ladder,
    img: await images(),
    rep,
    save,
    tokens: o.tokens,
    rounds: o.rounds,
    threads: o.threads,
    mid: o.mid,
    quantized,
    atImages,
    threadImages: o.threadsImages.split(','),
    threadLadder: ladder.filter((x) => threadRungs.includes(x.rung)),
    threadsOnly: !!o.threadsOnly,
    sweeps: !o.skipSweeps && !o.threadsOnly,
  };
  await nodeRungs(run);
  await nodeSweeps(run);
  if (!o.skipBrowser) await browserJobs(run);
  rep.loadAfter = os.loadavg();
  printTables(rep);
  console.log(`\nload average after: ${load()}`);
  printColumns();
  save();
  if (o.json) console.log(`wrote ${o.json}`);
  return 0;
}
