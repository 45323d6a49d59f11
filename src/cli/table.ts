// Aligned plain-text tables for CLI output (columns padded to their widest cell).

export function formatTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | bigint | null>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
