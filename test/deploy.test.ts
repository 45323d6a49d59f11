// The service files in the repo start a broker the way they say: the systemd unit's ExecStart and
// the Dockerfile's CMD, run here with the data dir and ports swapped for a temp dir and free ports,
// must reach the ready line and stop cleanly on SIGTERM (what systemd and docker send).
// (`systemd-analyze verify deploy/sluice.service` and `docker build .` need a system and a daemon
// that CI does not have; this checks what they would run.)

import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness/broker-process.js';
import { MAIN } from './helpers/broker.js';
import { tmpDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function unitArgs(): string[] {
  const line = readFileSync(`${root}deploy/sluice.service`, 'utf8').split('\n').find((l) => l.startsWith('ExecStart='))!;
  const words = line.slice('ExecStart='.length).split(/\s+/).filter(Boolean);
  if (!words[0]!.endsWith('/sluice')) throw new Error(`ExecStart runs ${words[0]}, not sluice`);
  return words.slice(1);
}

function dockerArgs(): string[] {
  const line = readFileSync(`${root}Dockerfile`, 'utf8').split('\n').find((l) => l.startsWith('CMD '))!;
  const words = JSON.parse(line.slice(4)) as string[];
  if (words[0] !== 'node' || words[1] !== 'dist/src/cli/main.js') throw new Error(`CMD runs ${words.slice(0, 2).join(' ')}`);
  return words.slice(2);
}

/** The same flags, with the data dir and ports made safe for a shared machine. */
async function localized(args: string[], dataDir: string): Promise<string[]> {
  const swap: Record<string, string> = { '--data': dataDir, '--host': '127.0.0.1', '--port': '0', '--metrics-port': '0', '--kafka-port': String(await freePort()) };
  return args.map((a, i) => (i > 0 && swap[args[i - 1]!] !== undefined ? swap[args[i - 1]!]! : a));
}

for (const [name, args] of [['systemd unit ExecStart', unitArgs()], ['Dockerfile CMD', dockerArgs()]] as const) {
  t.test(`${name} starts a broker and SIGTERM stops it cleanly`, async (t) => {
    t.equal(args[0], 'broker');
    const proc = spawn(process.execPath, [MAIN, ...(await localized(args, tmpDir(t)))], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => void proc.kill('SIGKILL'));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      proc.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (/^sluice listening on /m.test(out)) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready: ${out}`)));
    });
    t.match(out, /kafka on 127\.0\.0\.1:\d+, metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    proc.kill('SIGTERM');
    const [code] = (await once(proc, 'exit')) as [number | null];
    t.equal(code, 0);
  });
}
