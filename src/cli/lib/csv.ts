/**
 * @file CSV writing (RFC 4180 quoting) for result rows. Text cells that a spreadsheet would run as a formula (first
 * character = + - @, tab or carriage return: OWASP's CSV-injection list) get a leading apostrophe, so a question or
 * answer of the evaluation set can never execute in the reader's spreadsheet; numbers are written as they are.
 */

/** First characters that make a spreadsheet read a cell as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

function cell(value: unknown): string {
  let s = value == null ? '' : typeof value === 'number' && !Number.isFinite(value) ? '' : String(value);
  if (typeof value === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows of objects as CSV with the given columns, header first, CRLF-free. */
export function toCsv(columns: string[], rows: Array<Record<string, unknown>>): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
