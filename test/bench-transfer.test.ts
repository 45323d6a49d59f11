// The transfer-level fan-out benchmark runs end to end on a small log: every path verifies (CRC of the whole log)
// and every cell reports moved bytes, a JSON report and a chart. Figures are not asserted.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './helpers/tmp.js';

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

t.test('bench transfer verifies every path and writes JSON and SVG', async (t) => {
  const dir = tmpDir(t);
  const json = join(dir, 'transfer-fanout.json');
  const args = ['bench', 'transfer', '--log-mib', '8', '--consumers', '1,3', '--seconds', '0.3', '--no-sweep', '--dir', dir, '--json', json];
  const run = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  t.same(report.verifiedPaths, ['sendfile', 'mmap', 'copy', 'node']);
  t.equal(report.cells.length, 12, 'six paths (raw sendfile, raw io_uring and four fetch paths) x two consumer counts');
  t.ok(report.cells.every((c: { bytes: number; verified: boolean }) => c.bytes > 0 && c.verified), 'every cell moved verified bytes');
  t.match(readFileSync(json.replace(/json$/, 'svg'), 'utf8'), /^<svg/);
  t.match(run.stdout, /\| sendfile \|/);
  t.match(run.stdout, /\| raw-uring \| [\d.]+ GiB\/s/);
});
