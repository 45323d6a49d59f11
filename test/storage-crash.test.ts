// A child process appends in a loop and is SIGKILLed at a random moment, several times over the
// same directory. Each reopen must keep every acknowledged batch (a killed process leaves its
// page-cache writes behind), with contiguous offsets, and lose nothing before the kill.

import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PartitionLog } from '../src/storage/partition-log.js';
import { decodeRecordBatches } from '../src/protocol/record-batch.js';
import { tmpDir } from './helpers/tmp.js';

const child = fileURLToPath(new URL('./fixtures/append-loop.mjs', import.meta.url));

interface Ack {
  base: bigint;
  last: bigint;
  id: number;
}

/** Runs the child until it has acknowledged `acksBeforeKill` appends, then SIGKILLs it. */
function appendThenKill(dir: string, startId: number, acksBeforeKill: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, String(startId)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acks: Ack[] = [];
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const [kind, base, last, id] = line.split(' ');
      if (kind !== 'ack') return;
      acks.push({ base: BigInt(base!), last: BigInt(last!), id: Number(id) });
      if (acks.length === acksBeforeKill) proc.kill('SIGKILL');
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code}`));
      else resolve(acks);
    });
  });
}

t.test('SIGKILL while appending keeps a valid prefix with every acknowledged batch', async (t) => {
  const dir = tmpDir(t);
  let nextId = 0;
  let acknowledged: Ack[] = [];
  for (let cycle = 0; cycle < 6; cycle++) {
    const acks = await appendThenKill(dir, nextId, 300 + Math.floor(Math.random() * 1500));
    t.ok(acks.length > 0, `cycle ${cycle}: the child acknowledged appends`);
    acknowledged = acknowledged.concat(acks);
    nextId = acks[acks.length - 1]!.id + 1;

    const log = await PartitionLog.open(dir);
    t.notOk(log.recoveryReport.cleanShutdown, `cycle ${cycle}: the stop was unclean`);
    const last = acknowledged[acknowledged.length - 1]!;
    t.ok(log.highWatermark > last.last, `cycle ${cycle}: high watermark ${log.highWatermark} covers the last ack ${last.last}`);
    // Read everything back: contiguous offsets, and each acknowledged batch where it was acked.
    const byBase = new Map(acknowledged.map((a) => [a.base, a]));
    let offset = 0n;
    let found = 0;
    let problems = 0;
    while (offset < log.highWatermark) {
      for (const b of decodeRecordBatches(log.read(offset, 256 * 1024).data)) {
        if (b.baseOffset !== offset) problems++;
        const ack = byBase.get(b.baseOffset);
        if (ack) {
          found++;
          if (b.baseOffset + BigInt(b.lastOffsetDelta) !== ack.last) problems++;
          if (b.records[0]?.key?.toString() !== String(ack.id)) problems++;
        }
        offset = b.baseOffset + BigInt(b.lastOffsetDelta) + 1n;
      }
    }
    t.equal(problems, 0, `cycle ${cycle}: offsets contiguous and batches intact`);
    t.equal(found, acknowledged.length, `cycle ${cycle}: every acknowledged batch is present exactly once`);
    // The next child starts after whatever unacknowledged batches survived.
    await log.close();
  }
});
