// CLI output: aligned plain-text tables (columns padded to their widest cell), or JSON for scripts
// (`--output json`; 64-bit integers as decimal strings, since JSON numbers cannot hold them).

export function formatTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | bigint | null>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export type OutputFormat = 'table' | 'json';

/** Prints `value` as JSON (one document, bigints as strings) or the table `table()` makes. */
export function printOutput(format: OutputFormat | undefined, value: unknown, table: () => string): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  else process.stdout.write(table());
}
