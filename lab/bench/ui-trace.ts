/**
 * @file Summarises the Chromium trace `SAYO_UI_PROFILE=trace npm run bench:ui` writes (test-results/ui-bench/
 * box-edit.trace.json): total time per renderer main-thread event (script, style, layout, paint, …) over the 40
 * box edits, and per edit, so the part of a frame the browser spends outside the app's script is visible. Wall time
 * and thread (CPU) time are both printed: on a loaded machine the thread time is the steadier of the two. An event
 * nested in one of the same name (Paint of the HTML element inside the document's Paint) is counted once, and the
 * work each layout and style recalculation covered (dirty layout objects, restyled elements) is averaged.
 * Usage: npx tsx lab/bench/ui-trace.ts [trace.json] [key presses] (`--help`; test-results/ui-bench/scrub.trace.json
 * holds 31 presses)
 */
import fs from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';

const cli = new Command('npx tsx lab/bench/ui-trace.ts')
  .description(
    'Per renderer main-thread event, wall and thread time per key press of a Chromium trace written by SAYO_UI_PROFILE=trace npm run bench:ui.',
  )
  .argument('[trace]', 'the trace (.json)', 'test-results/ui-bench/box-edit.trace.json')
  .argument(
    '[presses]',
    'key presses the trace holds (scrub.trace.json: 31)',
    (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of key presses');
      return n;
    },
    40,
  )
  .parse();
const [file, KEYS] = cli.processedArgs as [string, number];

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  tdur?: number;
  tid: number;
  pid: number;
  args?: {
    data?: { frame?: string };
    beginData?: { dirtyObjects?: number; totalObjects?: number };
    elementCount?: number;
  };
}

const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] } | TraceEvent[];
const events = Array.isArray(raw) ? raw : raw.traceEvents;
// The renderer's main thread: the thread that ran the page's key events.
const main = events.find((e) => e.name === 'EventDispatch' || e.name === 'FunctionCall');
if (!main)
  throw new Error(`${file} holds no EventDispatch or FunctionCall event: was it written with SAYO_UI_PROFILE=trace?`);
const NAMES = [
  'EventDispatch',
  'FunctionCall',
  'RunMicrotasks',
  'UpdateLayoutTree',
  'Layout',
  'PrePaint',
  'Paint',
  'Layerize',
  'UpdateLayer',
  'CompositeLayers',
  'Commit',
  'ParseHTML',
  'MinorGC',
  'MajorGC',
];
const totals = new Map<string, { ms: number; cpu: number; count: number; work: number }>();
/** End time of the outermost event of each name seen so far (events come sorted by start time per thread). */
const openUntil = new Map<string, number>();
const mainEvents = events
  .filter((e) => e.ph === 'X' && e.pid === main.pid && e.tid === main.tid && NAMES.includes(e.name))
  .sort((a, b) => a.ts - b.ts);
for (const e of mainEvents) {
  if ((openUntil.get(e.name) ?? -Infinity) > e.ts) continue; // nested in one of the same name: already counted
  openUntil.set(e.name, e.ts + (e.dur ?? 0));
  const t = totals.get(e.name) ?? { ms: 0, cpu: 0, count: 0, work: 0 };
  t.ms += (e.dur ?? 0) / 1000;
  t.cpu += (e.tdur ?? e.dur ?? 0) / 1000;
  t.count++;
  t.work +=
    e.name === 'Layout'
      ? (e.args?.beginData?.dirtyObjects ?? 0)
      : e.name === 'UpdateLayoutTree'
        ? (e.args?.elementCount ?? 0)
        : 0;
  totals.set(e.name, t);
}
console.log(`renderer main thread over ${KEYS} key presses (${file}); FunctionCall nests inside EventDispatch`);
console.log(
  `  ${'event'.padEnd(18)} ${'wall ms/key'.padStart(12)} ${'cpu ms/key'.padStart(12)} ${'events'.padStart(7)}`,
);
for (const [name, t] of [...totals].sort((a, b) => b[1].ms - a[1].ms)) {
  const work =
    name === 'Layout'
      ? `, ${(t.work / t.count).toFixed(0)} dirty objects a layout`
      : name === 'UpdateLayoutTree'
        ? `, ${(t.work / t.count).toFixed(0)} elements a recalc`
        : '';
  console.log(
    `  ${name.padEnd(18)} ${(t.ms / KEYS).toFixed(2).padStart(12)} ${(t.cpu / KEYS).toFixed(2).padStart(12)} ${String(t.count).padStart(7)}${work}`,
  );
}
