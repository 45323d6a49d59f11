// A benchmark run never rewrites the published results (bench/results/, what the README shows)
// unless asked: by default it writes to a fresh temp dir and says where; `--publish` is the way to
// update the published files, and a `--quick` smoke run cannot be published.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

const published = fileURLToPath(new URL('../bench/results/append.json', import.meta.url));
const publishedLoad = fileURLToPath(new URL('../bench/results/load.json', import.meta.url));
const loadMain = fileURLToPath(new URL('../dist/test/harness/load-main.js', import.meta.url));

t.test('a run without --json writes to a fresh temp dir and leaves bench/results alone', async (t) => {
  const before = statSync(published).mtimeMs;
  const dir = tmpDir(t);
  const run = spawnSync(process.execPath, [MAIN, 'bench', 'append', '--seconds', '0.05', '--sizes', '1024', '--writers', '2', '--max-mib', '1', '--dir', dir], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  const m = /^JSON: (.+)$/m.exec(run.stdout);
  t.ok(m, 'it says where the report went');
  const json = m![1]!;
  t.ok(json.startsWith(tmpdir()), `in the temp dir: ${json}`);
  t.ok(existsSync(json) && JSON.parse(readFileSync(json, 'utf8')).machine, 'a report is there');
  t.equal(statSync(published).mtimeMs, before, 'the published results were not touched');
});

t.test('--publish with --quick, or with --json, is a usage error (exit 2)', async (t) => {
  const quick = spawnSync(process.execPath, [MAIN, 'bench', 'latency', '--quick', '--publish'], { encoding: 'utf8' });
  t.equal(quick.status, 2);
  t.match(quick.stderr, /--quick runs are smoke tests/);
  const named = spawnSync(process.execPath, [MAIN, 'bench', 'append', '--publish', '--json', 'x.json'], { encoding: 'utf8' });
  t.equal(named.status, 2);
  t.match(named.stderr, /--publish names its own files/);
});

t.test('npm run load writes to a fresh temp dir too; the published load.json only with --publish', async (t) => {
  const before = statSync(publishedLoad).mtimeMs;
  const dir = tmpDir(t);
  const small = ['--connections', '4', '--consumers', '1', '--producers', '1', '--seconds', '1', '--records-per-sec', '50', '--readers', '1', '--topic-mib', '1', '--rounds', '1', '--dir', dir];
  const run = spawnSync(process.execPath, [loadMain, ...small], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  const m = /^report: (.+)$/m.exec(run.stdout);
  t.ok(m, 'it says where the report went');
  t.ok(m![1]!.startsWith(tmpdir()), `in the temp dir: ${m![1]}`);
  t.ok(JSON.parse(readFileSync(m![1]!, 'utf8')).connections, 'a report is there');
  t.equal(statSync(publishedLoad).mtimeMs, before, 'the published load.json was not touched');
  const both = spawnSync(process.execPath, [loadMain, '--publish', '--json', 'x.json'], { encoding: 'utf8' });
  t.equal(both.status, 2, 'a usage error');
});
