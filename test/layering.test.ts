// The layering rules (.dependency-cruiser.cjs, drawn in docs/architecture.md) hold on the tree, and
// each of them fails when broken: a small tree with one violation per rule, checked by the same
// configuration in a temp dir, must be refused with that rule's name.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string, paths: string[]): { status: number | null; out: string } {
  const r = spawnSync(depcruise, ['--config', join(cwd, '.dependency-cruiser.cjs'), '--output-type', 'err-long', ...paths], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

t.test('the tree keeps every layering rule', async (t) => {
  const r = cruise(root, ['src', 'test', 'bench']);
  t.equal(r.status, 0, r.out);
  t.match(r.out, /no dependency violations found/);
});

t.test('each rule refuses the import it forbids', async (t) => {
  const dir = tmpDir(t, 'layering');
  copyFileSync(join(root, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  writeFileSync(join(dir, 'tsconfig.test.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', allowJs: true }, include: ['src', 'test', 'bench'] }));
  const files: Record<string, string> = {
    // One violation per rule; the rest of the tree is what the rules allow.
    'src/doors/door.ts': 'export type Door = 1;\n',
    'src/doors/sluice/handler.ts': "import '../kafka/handler.js';\n", // doors-apart
    'src/doors/kafka/handler.ts': "import '../../server/connection.js';\n", // doors-not-server
    'src/doors/kafka/fetch.ts': "import '../sluice/handler.js';\n", // doors-apart-kafka
    'src/doors/sluice/produce.ts': "import '../../log/topics.js';\n", // doors-through-broker
    'src/doors/kafka/messages/fetch.ts': "import 'node:fs';\n", // codecs-pure
    'src/server/connection.ts': "import '../doors/sluice/handler.js';\n", // server-not-doors
    'src/log/topics.ts': "import '../doors/door.js';\n", // domain-not-doors
    'src/client/producer.ts': "import '../log/topics.js';\n", // client-not-broker
    'src/app/broker.ts': "import '../cli/main.js';\nimport '../../bench/run.js';\n", // cli-apart, no-bench-in-product
    'src/cli/main.ts': 'export const main = 1;\n',
    'src/group/a.ts': "import './b.js';\n", // no-circular
    'src/group/b.ts': "import './a.js';\n",
    'src/broker/api.ts': "import './missing.js';\n", // resolvable
    'src/cluster/node.ts': "import '../broker/api.js';\n", // cluster-layer
    'src/cluster/view.ts': "import { Etcd3 } from 'etcd3';\nexport const store = Etcd3;\n", // etcd-in-one-place
    'src/storage/log.ts': "import '../cluster/node.js';\n", // domain-not-cluster
    'node_modules/etcd3/package.json': '{ "name": "etcd3", "main": "index.js" }\n',
    'node_modules/etcd3/index.js': 'exports.Etcd3 = class {};\n',
    'bench/run.ts': 'export const run = 1;\n',
    'test/a.test.ts': "import '../bench/run.js';\n", // tests-not-bench
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const r = cruise(dir, ['src', 'test', 'bench']);
  t.not(r.status, 0, 'the check fails');
  for (const rule of ['no-circular', 'doors-apart', 'doors-apart-kafka', 'doors-through-broker', 'doors-not-server', 'server-not-doors', 'domain-not-doors', 'codecs-pure', 'client-not-broker', 'no-bench-in-product', 'tests-not-bench', 'cli-apart', 'resolvable', 'cluster-layer', 'etcd-in-one-place', 'domain-not-cluster']) {
    t.match(r.out, new RegExp(`error ${rule}:`), `${rule} is reported`);
  }
});

t.test("no door reads the broker's services from its session (scripts/check-door-sessions.mjs)", async (t) => {
  const script = join(root, 'scripts', 'check-door-sessions.mjs');
  const clean = spawnSync(process.execPath, [script], { cwd: root, encoding: 'utf8' });
  t.equal(clean.status, 0, `${clean.stdout}${clean.stderr}`);
  const dir = tmpDir(t, 'door-sessions');
  mkdirSync(join(dir, 'src/doors/sluice/handlers'), { recursive: true });
  mkdirSync(join(dir, 'src/broker'), { recursive: true });
  writeFileSync(join(dir, 'src/doors/sluice/handlers/groups.ts'), 'export const list = (ctx) => ({ body: ctx.groups.listGroups() });\nexport const who = (ctx) => ctx.logger;\n');
  writeFileSync(join(dir, 'src/broker/groups.ts'), 'export const list = (s) => s.groups.listGroups();\n'); // the broker API may
  const broken = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
  t.equal(broken.status, 1, 'the check fails');
  t.match(broken.stderr, /src\/doors\/sluice\/handlers\/groups\.ts:1: reads the session's groups/);
  t.notMatch(broken.stderr, /broker\/groups/, 'only doors are held to it');
  t.match(broken.stderr, /1 use\(s\)/, 'ctx.logger is not a service');
});
