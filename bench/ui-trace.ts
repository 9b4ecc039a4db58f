/**
 * @file Summarises the Chromium trace `SAYO_UI_PROFILE=trace npm run bench:ui` writes (test-results/ui-bench/
 * box-edit.trace.json): total time per renderer main-thread event (script, style, layout, paint, …) over the 40
 * box edits, and per edit, so the part of a frame the browser spends outside the app's script is visible.
 * Usage: npx tsx bench/ui-trace.ts [trace.json]
 */
import fs from 'node:fs';

interface TraceEvent { name: string; ph: string; dur?: number; tid: number; pid: number; args?: { data?: { frame?: string } } }

const file = process.argv[2] ?? 'test-results/ui-bench/box-edit.trace.json';
const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] } | TraceEvent[];
const events = Array.isArray(raw) ? raw : raw.traceEvents;
// The renderer's main thread: the thread that ran the page's key events.
const main = events.find((e) => e.name === 'EventDispatch' || e.name === 'FunctionCall');
if (!main) throw new Error(`${file} holds no EventDispatch or FunctionCall event: was it written with SAYO_UI_PROFILE=trace?`);
const NAMES = ['EventDispatch', 'FunctionCall', 'RunMicrotasks', 'UpdateLayoutTree', 'Layout', 'PrePaint', 'Paint', 'Layerize', 'UpdateLayer', 'CompositeLayers', 'Commit', 'ParseHTML', 'MinorGC', 'MajorGC'];
const totals = new Map<string, { ms: number; count: number }>();
for (const e of events) {
  if (e.ph !== 'X' || e.pid !== main.pid || e.tid !== main.tid || !NAMES.includes(e.name)) continue;
  const t = totals.get(e.name) ?? { ms: 0, count: 0 };
  t.ms += (e.dur ?? 0) / 1000;
  t.count++;
  totals.set(e.name, t);
}
const EDITS = 40;
console.log(`renderer main thread over ${EDITS} box edits (${file}); events nest (FunctionCall inside EventDispatch)`);
for (const [name, t] of [...totals].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`  ${name.padEnd(18)} ${t.ms.toFixed(1).padStart(8)} ms total, ${(t.ms / EDITS).toFixed(2).padStart(6)} ms per edit, ${t.count} events`);
}
