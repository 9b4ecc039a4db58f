/**
 * @file The scale benchmark's tables, printed from a report (after a run, or `--print FILE` for a saved one).
 */
import { median } from '../support/stats.ts';
import type { MemoryResult, VariantFigures } from './scale-node.ts';
import { f, isErr, loadAt, loadSpan, mb, type ScaleReport } from './report.ts';

/** Node: one row per rung and precision (decode variants, limit, bytes per token, first token, peak memory). */
function printNodeRungs(rep: ScaleReport): void {
  if (!rep.rungs.length) return; // a --threads-only run
  const cols = [
    'rung',
    'params',
    'img',
    'prefill ms',
    'tok/s all',
    'last',
    'none',
    'noattn',
    'tjs gen',
    'tjs+attn',
    'limit',
    'B/tok last',
    'cold ms',
    'warm ms',
    'peak MB all/last/noattn',
  ];
  console.log(
    `\nNode (onnxruntime-node, ${rep.threads} thread${rep.threads > 1 ? 's' : ''}), ${rep.tokens} forced new tokens, median of ${rep.rounds} interleaved rounds — load ${loadAt(rep)}`,
  );
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
}

/** Node: each rung's ratios against the aims (capture cost paired by round, ours ÷ transformers.js, decode ÷ limit, memory). */
function printNodeRatios(rep: ScaleReport): void {
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
}

/** Peak memory at more image tokens (`--images`), Node and Chromium. */
function printAtImages(rep: ScaleReport): void {
  const at = rep.rungs.filter((r) => r.atImages && Object.keys(r.atImages).length);
  if (at.length) {
    console.log(
      `\nPeak memory at more image tokens (capture last layer; Node with and without capture) — load ${loadAt(rep)}`,
    );
    console.log(
      [
        'rung',
        'image tokens',
        'Node peak MB last / without',
        'prefill ms (Node, last)',
        'Chromium tree peak MB',
        'largest Chromium process MB (holds the WASM heap)',
        'Chromium',
      ].join(' | '),
    );
    for (const r of at) {
      for (const [k, x] of Object.entries(r.atImages!)) {
        const nm = (v: string) => (isErr(x.node[v]) ? 'err' : mb((x.node[v] as MemoryResult | undefined)?.peakRssMb));
        const last = x.node.last && !isErr(x.node.last) ? x.node.last : undefined;
        const b = x.browser;
        console.log(
          [
            r.label,
            last ? String(last.imageTokens) : k,
            `${nm('last')} / ${nm(r.entry.noattn ? 'noattn' : 'none')}`,
            f(last?.prefillMs, 0),
            b ? mb(b.peakRssMb) : '-',
            b ? mb(b.largestProcessMb) : '-',
            !b ? 'not run' : b.error ? `error: ${b.error}` : 'answered',
          ].join(' | '),
        );
        for (const [v, y] of Object.entries(x.node))
          if (isErr(y)) console.log(`  ${r.label} Node ${v} at ${k}: ${y.error}`);
      }
    }
  }
}

/** Chromium (WASM): one row per rung, with transformers.js's generate() beside ours. */
function printBrowserRungs(rep: ScaleReport): void {
  if (rep.rungs.some((r) => r.browser)) {
    console.log(
      `\nChromium (WASM, the worker engine, model by URL), ${rep.tokens} forced new tokens — load ${loadAt(rep)}`,
    );
    console.log(
      [
        'rung',
        'prefill ms',
        'tok/s all',
        'last',
        'none',
        'tjs generate() / +attn',
        'ours ÷ tjs with attentions',
        'wasm/node last',
        'B/tok last',
        'cold ms',
        'warm ms',
        'tree peak MB',
        'peak last/none',
      ].join(' | '),
    );
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
        const threads =
          b.threads === b.tjsThreads
            ? `both ${b.threads}`
            : `ours ${b.threads ?? 'n/a'}, transformers.js ${b.tjsThreads ?? 'n/a'}`;
        // Paired by round (a round runs every variant back to back), as the Node capture cost.
        const ra = b.roundsTps?.all ?? b.roundsTps?.last;
        const rt = b.roundsTps?.['tjs-attn'];
        const perRound =
          ra && rt && ra.length === rt.length
            ? `; ours ÷ tjs with attentions per round: ${ra.map((x, i) => f(x / rt[i], 2)).join(', ')}`
            : '';
        console.log(
          `  ${r.label}: WASM threads ${threads}${b.tjsThreadsNote ? ` (${b.tjsThreadsNote})` : ''}; prefill ms ours last ${f(p.last, 0)}, tjs ${f(p.tjs, 0)}, tjs+attn ${f(p['tjs-attn'], 0)}${perRound}`,
        );
      }
      if (b.tjsError) console.log(`  ${r.label} Chromium: ${b.tjsError}`);
      for (const [k, x] of Object.entries({ decode: b, ...r.browserMemory }))
        if (x.error) console.log(`  ${r.label} Chromium ${k}: ${x.error}`);
    }
    if (rep.rungs.some((r) => r.browser?.decodeTps && 'tjs' in r.browser.decodeTps)) {
      console.log(
        '  tjs = transformers.js generate() in a worker of its own (same folder, dtype, WASM threads); ours ÷ tjs with attentions =',
      );
      console.log(
        "  our loop capturing all layers ÷ generate() with output_attentions. The tree peak is the decode job's, both workers",
      );
      console.log('  loaded; peak last/none are jobs with our worker alone.');
    }
  }
}

/** Every per-rung table (a --threads-only run has none). */
function printRungs(rep: ScaleReport): void {
  if (!rep.rungs.length) return;
  printNodeRungs(rep);
  printNodeRatios(rep);
  printAtImages(rep);
  printBrowserRungs(rep);
}

/** Node sweeps at the mid rung (image tokens, generated length) and the threads A/B, Node and Chromium. */
function printSweeps(rep: ScaleReport): void {
  if (rep.imageTokens.length) {
    console.log(
      `\nImage tokens at ${rep.imageTokens[0].rung} (Node, capture last layer unless named) — load ${loadAt(rep)}`,
    );
    console.log(
      ['image tokens', 'prompt', 'prefill ms', 'tok/s last', 'noattn', 'tjs gen', 'peak MB all/last/noattn'].join(
        ' | ',
      ),
    );
    for (const s of rep.imageTokens) {
      const n = s.node;
      const mem = ['all', 'last', 'noattn']
        .map((k) => (isErr(s.memory[k]) ? 'err' : mb((s.memory[k] as MemoryResult | undefined)?.peakRssMb)))
        .join('/');
      if (isErr(n)) console.log(`${s.tokens} | error: ${n.error}`);
      else
        console.log(
          [
            n.imageTokens,
            n.promptTokens,
            f(n.variants.last?.prefillMs, 0),
            f(n.variants.last?.decodeTps),
            f(n.variants.noattn?.decodeTps),
            f(n.variants.tjs?.decodeTps),
            mem,
          ].join(' | '),
        );
    }
  }
  if (rep.lengths.length) {
    console.log(
      `\nGenerated length at ${rep.lengths[0].rung} (Node, capture last layer, ~100 image tokens) — load ${loadAt(rep)}`,
    );
    console.log(['new tokens', 'prefill ms', 'tok/s', 'peak MB', 'RSS MB at token 1 / 128 / 256 / …'].join(' | '));
    for (const s of rep.lengths) {
      const n = s.node;
      if (isErr(n)) console.log(`${s.tokens} | error: ${n.error}`);
      else
        console.log(
          [
            s.tokens,
            f(n.prefillMs, 0),
            f(n.decodeTps),
            mb(n.peakRssMb),
            n.rssAt.map(([t, m]) => `${t}:${Math.round(m)}`).join(' '),
          ].join(' | '),
        );
    }
  }
  const abLine = (
    by: Record<
      string,
      { prefillMs: number; decodeTps: number; rounds?: Array<{ prefillMs: number; decodeTps: number }> }
    >,
  ) => {
    const list = (v: (typeof by)[string], k: 'prefillMs' | 'decodeTps', d: number) =>
      v.rounds ? ` [${v.rounds.map((r) => f(r[k], d)).join(', ')}]` : '';
    const line = Object.entries(by)
      .map(
        ([k, v]) =>
          `${k} thread(s) prefill ${f(v.prefillMs, 0)} ms${list(v, 'prefillMs', 0)}, decode ${f(v.decodeTps)} tok/s${list(v, 'decodeTps', 1)}`,
      )
      .join(' · ');
    const ratio =
      by['1'] && by['2']
        ? `\n    2 threads ÷ 1: prefill speed ${f(by['1'].prefillMs / by['2'].prefillMs, 2)}×, decode ${f(by['2'].decodeTps / by['1'].decodeTps, 2)}×`
        : '';
    return line + ratio;
  };
  if (rep.threadsAB.length) {
    console.log(
      `\nORT intra-op threads, interleaved (Node, capture last layer; medians, [every round]) — load ${loadAt(rep)}`,
    );
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
    console.log(
      "\nORT intra-op threads, interleaved (Chromium WASM: onnxruntime-web's thread pool, one engine worker per count; capture last",
    );
    console.log("layer; medians, [every round]; load average at the job's start → end)");
    for (const t of rep.browserThreadsAB) {
      const r = t.result;
      const load = r.load
        ? ` — load ${r.load.before.map((x) => x.toFixed(2)).join(' ')} → ${r.load.after.map((x) => x.toFixed(2)).join(' ')}`
        : '';
      if (r.error || !r.byThreads) {
        console.log(`  ${t.rung} @ ~${t.images} image tokens: error ${r.error ?? 'no figures'}${load}`);
        continue;
      }
      const asked =
        Number(t.images) > 100 && r.imageTokens !== undefined && r.imageTokens < Number(t.images) / 2
          ? ` (image for ~${t.images}, capped by the processor)`
          : '';
      const img = r.imageTokens ? ` @ ${r.imageTokens} image tokens${asked}` : ` @ ~${t.images} image tokens`;
      console.log(`  ${t.rung}${img}${load}: ${abLine(r.byThreads)}`);
      for (const [k, v] of Object.entries(r.byThreads)) {
        if (v.inUse !== Number(k))
          console.log(`    asked ${k} thread(s), ONNX Runtime ran ${v.inUse}${v.note ? `: ${v.note}` : ''}`);
      }
    }
    const isolated = rep.browserThreadsAB.map((t) => t.result.isolated).filter((x) => x !== undefined);
    if (isolated.length && isolated.every((x) => x)) {
      console.log(
        '  The app was cross-origin isolated (COOP same-origin + COEP credentialless from the preview server, build/security-headers.ts):',
      );
      console.log(
        '  SharedArrayBuffer, so onnxruntime-web runs a thread pool. Served without those headers it runs one thread.',
      );
    } else if (isolated.some((x) => !x)) {
      console.log(
        '  The app was NOT cross-origin isolated (no COOP/COEP headers reached the page): SharedArrayBuffer is unavailable and',
      );
      console.log('  onnxruntime-web runs one thread, whatever was asked.');
    }
  }
}

/** The WebGPU table: the page's adapter, the decode figures, and WebGPU ÷ WASM (the rung's Chromium WASM row). */
export function printWebGpu(rep: ScaleReport): void {
  const rows = rep.browserWebGpu ?? [];
  if (!rows.length) return;
  const wasmTokens = rep.rungs.some((r) => r.browser) ? `, WASM rows ${rep.tokens}` : '';
  console.log(
    `\nChromium WebGPU (the worker engine, backend 'webgpu', model by URL), ${rows[0].tokens} forced new tokens${wasmTokens}, median of ${rep.rounds} interleaved rounds`,
  );
  console.log(
    [
      'rung',
      'adapter (vendor/architecture)',
      'prefill ms',
      'tok/s all',
      'last',
      'none',
      'WebGPU ÷ WASM last / none',
      'cold ms',
      'warm ms',
      'tree peak MB',
      'load start → end',
    ].join(' | '),
  );
  for (const w of rows) {
    const g = w.result;
    const a = g.adapter;
    const adapter = !a
      ? 'n/a'
      : !a.available
        ? 'none'
        : `${[a.vendor, a.architecture].filter(Boolean).join('/') || 'unnamed'}${a.isFallbackAdapter ? ', fallback adapter' : a.isFallbackAdapter === false ? '' : ', fallback n/a'}`;
    if (g.error) {
      console.log([w.label, adapter, `error: ${g.error}`, loadSpan(g)].join(' | '));
      continue;
    }
    const wasm = rep.rungs.find((r) => r.label === w.label)?.browser?.decodeTps;
    const ratio = (k: string) => f((g.decodeTps?.[k] ?? NaN) / (wasm?.[k] ?? NaN), 2);
    console.log(
      [
        w.label,
        adapter,
        f(g.prefillMs?.last, 0),
        f(g.decodeTps?.all),
        f(g.decodeTps?.last),
        f(g.decodeTps?.none),
        `${ratio('last')} / ${ratio('none')}`,
        f(g.firstTokenColdMs, 0),
        f(g.firstTokenWarmMs, 0),
        mb(g.peakRssMb),
        loadSpan(g),
      ].join(' | '),
    );
  }
}

/** The Chromium sweeps' tables (image tokens, generated length), like Node's. */
export function printBrowserSweeps(rep: ScaleReport): void {
  const images = rep.browserImageTokens ?? [];
  if (images.length) {
    console.log(
      `\nImage tokens at ${images[0].rung} (Chromium WASM, the worker engine; decode medians of ${Math.max(1, rep.rounds - 1)} interleaved rounds, ${rep.tokens} forced new tokens)`,
    );
    console.log(
      [
        'image tokens',
        'prompt',
        'prefill ms last',
        'tok/s last',
        'none',
        'tree peak MB last / without',
        'last ÷ without',
        'load start → end',
      ].join(' | '),
    );
    for (const s of images) {
      const r = s.result;
      const ml = s.memory.last?.peakRssMb;
      const mn = s.memory.none?.peakRssMb;
      if (r.error) console.log([`~${s.tokens}`, `error: ${r.error}`, loadSpan(r)].join(' | '));
      const capped =
        Number(s.tokens) > 100 && r.imageTokens !== undefined && r.imageTokens < Number(s.tokens) / 2
          ? ` (image for ~${s.tokens}, capped by the processor)`
          : '';
      if (!r.error)
        console.log(
          [
            `${r.imageTokens ?? `~${s.tokens}`}${capped}`,
            r.promptTokens ?? 'n/a',
            f(r.prefillMs?.last, 0),
            f(r.decodeTps?.last),
            f(r.decodeTps?.none),
            `${mb(ml)} / ${mb(mn)}`,
            `${f((ml ?? NaN) / (mn ?? NaN), 2)}×`,
            loadSpan(r),
          ].join(' | '),
        );
      for (const [k, x] of Object.entries(s.memory))
        if (x.error) console.log(`  ~${s.tokens} image tokens, Chromium memory ${k}: ${x.error}`);
    }
  }
  const lengths = rep.browserLengths ?? [];
  if (lengths.length) {
    console.log(
      `\nGenerated length at ${lengths[0].rung} (Chromium WASM, capture last layer, ~100 image tokens; tree RSS polled with the page's step counter)`,
    );
    console.log(
      [
        'new tokens',
        'prefill ms',
        'tok/s',
        'tree peak MB',
        'largest process MB',
        'RSS MB tree/largest process at step 1 / 128 / 256 / … (the step seen)',
        'load start → end',
      ].join(' | '),
    );
    for (const s of lengths) {
      const r = s.result;
      if (r.error) console.log([s.tokens, `error: ${r.error}`, loadSpan(r)].join(' | '));
      else
        console.log(
          [
            s.tokens,
            f(r.prefillMs?.last, 0),
            f(r.decodeTps?.last),
            mb(r.peakRssMb),
            mb(r.largestProcessMb),
            (r.rssAt ?? []).map(([t, tree, largest]) => `${t}:${Math.round(tree)}/${Math.round(largest)}`).join(' '),
            loadSpan(r),
          ].join(' | '),
        );
    }
  }
}

/** What the columns mean (printed after a run). */
export function printColumns(): void {
  console.log(
    'Columns: tok/s = decode tokens/s after the first token; all/last/none = layers captured by our loop; noattn = the same',
  );
  console.log(
    'weights with a decoder that has no attention outputs; tjs gen = transformers.js generate() on the same folder (tjs+attn:',
  );
  console.log(
    "output_attentions; Chromium: in a worker of its own with the engine's WASM threads); limit = copy bandwidth ÷ decoder",
  );
  console.log('bytes (tokens/s if decode only streamed the weights once);');
  console.log(
    "B/tok = bytes of one StepRecord posted by the worker; peak MB = the job process's peak RSS (Chromium: its whole process tree).",
  );
}

/** The tables of a report, without its header (after a run). */
export function printTables(rep: ScaleReport): void {
  printRungs(rep);
  printWebGpu(rep);
  printSweeps(rep);
  printBrowserSweeps(rep);
}

/** Prints the tables of a saved report (`--print FILE`). */
export function printReport(rep: ScaleReport): void {
  console.log(
    `SAYO Lens scale benchmark of ${rep.date} — ${rep.machine.cpus}, ${rep.machine.cores} cores, ${rep.machine.memGiB.toFixed(0)} GiB, Node ${rep.machine.node}`,
  );
  console.log(
    `load average before: ${rep.loadBefore.map((x) => x.toFixed(2)).join(' ')}, after: ${rep.loadAfter?.map((x) => x.toFixed(2)).join(' ') ?? 'n/a (run not finished)'}`,
  );
  console.log(`copy bandwidth (one thread): ${rep.copyGBs.toFixed(1)} GB/s`);
  printTables(rep);
}
