// The README's shell quick start ("From a second shell in the repository"), line by line exactly
// as printed: each line runs under `sh -c` in the repository's root, `npx sluice` and all, against
// a broker with the default settings (as `npm start` runs it) on a free port, which SLUICE_BROKER
// names (the client commands read it when --broker is not given).
//
// npm's side of `npx sluice` is kept apart from the user's: in a package's own directory npx
// installs that package (a link to it) into its cache and runs the package's install script the
// first time, which here is `npm run build` of this very tree. The test gives npm a fresh cache,
// no scripts (the tree is built already; a rebuild would rewrite dist/ and the addon under the
// other tests) and no network.

import t from 'tap';
import { readmeBlock } from './helpers/readme.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startBroker } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

t.test("the README's shell quick start runs as printed: two values, two JSON records, the group's committed offsets", async (t) => {
  const block = readmeBlock('From a second shell', 'sh');
  const lines = block.split('\n').filter((l) => l.trim() !== '');
  t.equal(lines.length, 5, 'create, produce, consume, consume as a group, describe the group');

  const broker = await startBroker(t);
  const npm = { npm_config_cache: tmpDir(t, 'sluice-npm-cache-'), npm_config_ignore_scripts: 'true', npm_config_offline: 'true' };
  const env = { ...process.env, ...npm, SLUICE_BROKER: `127.0.0.1:${broker.port}` };
  const run = (line: string) => spawnSync('sh', ['-c', line], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });

  const [create, produce, consume, group, describe] = lines.map(run);
  for (const [i, r] of [create, produce, consume, group, describe].entries()) {
    t.equal(r!.status, 0, `line ${i + 1} exits 0: ${lines[i]}\n${r!.stderr}`);
  }
  t.equal(create!.stdout, 'created topic orders\n');
  t.match(produce!.stderr, /produced 2 records to orders/);
  // Keyed records spread over the three partitions; each value comes out once.
  t.same(consume!.stdout.split('\n').filter(Boolean).sort(), ['{"qty":2}', '{"qty":5}'], 'the consume prints the two values');
  const records = group!.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { topic: string; partition: number; offset: string; key: string; value: string });
  t.same(records.map((r) => [r.topic, r.key, r.value]).sort(), [['orders', 'o-1', '{"qty":2}'], ['orders', 'o-2', '{"qty":5}']], 'the group member prints both records as JSON');

  // Every partition that got records has what was printed committed: its high watermark, lag 0.
  // (The member may commit its other partitions' starting offsets too: 0, their high watermark.)
  const perPartition = new Map<string, number>();
  for (const r of records) perPartition.set(String(r.partition), (perPartition.get(String(r.partition)) ?? 0) + 1);
  const rows = describe!.stdout.split('\n').filter((l) => /^orders\s/.test(l)).map((l) => l.split(/\s+/).slice(1, 5));
  t.same(
    rows.filter(([p]) => perPartition.has(p!)).sort(),
    [...perPartition].map(([p, n]) => [p, String(n), String(n), '0']).sort(),
    `groups describe billing shows the offsets the member committed (partition, committed, high watermark, lag):\n${describe!.stdout}`,
  );
  t.ok(rows.every(([, committed, end, lag]) => committed === end && lag === '0'), 'and no lag on any partition');
  t.match(describe!.stdout, /^group billing: Empty, /m, 'and the member has left');
});
