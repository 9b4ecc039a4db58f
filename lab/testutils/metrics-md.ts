/**
 * @file Read the figures of a metrics report in Markdown (models/METRICS.md, written by the trainer's `report`
 * stage): every table row whose header names the contract metrics, with each number's printed precision, so that
 * `sayo eval` results can be checked against it "within the printed precision".
 */
import type { DatasetMeans } from '../../src/core/metrics.ts';

export type MetricKey = 'accuracy' | 'R_a' | 'r_v' | 'imageShare' | 'pointingHit';

/** A printed number: its value as a fraction (percentages divided by 100) and the half-unit of its last digit. */
export interface PrintedNumber {
  value: number;
  tolerance: number;
  text: string;
}

/** One table row: its first cell and the metric cells found. */
export interface MetricsRow {
  label: string;
  values: Partial<Record<MetricKey, PrintedNumber>>;
}

const HEADERS: Array<[MetricKey, RegExp]> = [
  ['accuracy', /acc/i],
  ['r_v', /\br[_ ]?v\b|r<sub>v/i],
  ['R_a', /\bR[_ ]?a\b|R<sub>a/i],
  ['imageShare', /image.?(attention.?)?share|img.?share/i],
  ['pointingHit', /point/i],
];

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

/** A printed number such as `0.512`, `41.5%` or `**0.61**`; null when the cell holds none. */
export function parsePrinted(cell: string): PrintedNumber | null {
  const m = /(-?\d+(?:\.(\d+))?)\s*(%)?/.exec(cell.replace(/[*`_]/g, ''));
  if (!m) return null;
  const decimals = m[2]?.length ?? 0;
  const scale = m[3] ? 100 : 1;
  return { value: Number(m[1]) / scale, tolerance: (0.5 * 10 ** -decimals) / scale, text: m[0].trim() };
}

/** Every row of every Markdown table whose header names at least two contract metrics. */
export function parseMetricsMarkdown(text: string): MetricsRow[] {
  const rows: MetricsRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].trim().startsWith('|') || !/^\s*\|?\s*:?-+:?\s*(\||$)/.test(lines[i + 1])) continue;
    const header = cells(lines[i]);
    const columns = header.map((h) => HEADERS.find(([, re]) => re.test(h))?.[0]);
    if (columns.filter(Boolean).length < 2) continue;
    for (let j = i + 2; j < lines.length && lines[j].trim().startsWith('|'); j++) {
      const row = cells(lines[j]);
      const values: MetricsRow['values'] = {};
      columns.forEach((key, c) => {
        const printed = key && row[c] !== undefined ? parsePrinted(row[c]) : null;
        if (key && printed) values[key] = printed;
      });
      rows.push({ label: row[0] ?? '', values });
    }
  }
  return rows;
}

/** Differences beyond the printed precision between a report row and measured means ("" when they agree). */
export function compareRow(row: MetricsRow, measured: DatasetMeans): string[] {
  const out: string[] = [];
  for (const [key, printed] of Object.entries(row.values) as Array<[MetricKey, PrintedNumber]>) {
    const value = measured[key];
    if (value === null || Math.abs(value - printed.value) > printed.tolerance + 1e-12) {
      out.push(`${row.label} ${key}: report ${printed.text}, measured ${value}`);
    }
  }
  return out;
}
