/**
 * @file CSV writing (RFC 4180 quoting) for result rows.
 */

function cell(value: unknown): string {
  const s = value == null ? '' : typeof value === 'number' && !Number.isFinite(value) ? '' : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows of objects as CSV with the given columns, header first, CRLF-free. */
export function toCsv(columns: string[], rows: Array<Record<string, unknown>>): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
