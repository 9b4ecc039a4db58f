/**
 * @file Plain-text tables for the terminal: columns padded to their widest cell, numbers right-aligned.
 */

/** Render rows (first row = header) as aligned text; cells that look numeric are right-aligned. */
export function renderTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = (s: string) => /^[-+]?[\d.]+%?$/.test(s) || s === 'n/a';
  const line = (r: string[]) =>
    r
      .map((cell, c) => (numeric(cell) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n') + '\n';
}

/** A number with `digits` decimals, or "n/a" for null / NaN. */
export function fmt(value: number | null | undefined, digits = 3): string {
  return value == null || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}
