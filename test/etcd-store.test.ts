// The cluster store against a real etcd (test/harness/etcd.ts): exclusive create, one winner among
// compare-and-put racers, all-or-none transactions, list + watch from the list's revision (every
// later change, in order, none before, nothing outside the prefix), leases (their keys go on
// revoke and when keepalives stop; onLost when another client revokes; validUntilMs counted from
// the keepalive's send time), a watch that survives an etcd restart, and bounded failures with
// CLUSTER_STORE_UNAVAILABLE while etcd is down or frozen.
//
// Nothing sleeps and hopes: waits are for events (a watch's delete, a lease's loss) or poll a
// condition that must become true; tap's timeout bounds them.

import t from 'tap';
import { EtcdStore, monotonicClock, type StoreLease, type WatchEvent } from '../src/cluster/etcd-store.js';
import { SluiceError } from '../src/errors.js';
import { startEtcd, type EtcdProcess } from './harness/etcd.js';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

async function etcdFor(t: Teardown): Promise<EtcdProcess> {
  const etcd = await startEtcd();
  t.teardown(() => etcd.close());
  return etcd;
}

let storeCount = 0;
/** A store on its own prefix (stores made with the same `prefix` share keys). */
function storeFor(t: Teardown, etcd: EtcdProcess, options: { prefix?: string; dialTimeoutMs?: number; clock?: { nowMs(): number } } = {}): EtcdStore {
  const store = EtcdStore.connect({ endpoints: [etcd.endpoint], prefix: options.prefix ?? `/sluice/test-${process.pid}-${storeCount++}/`, ...options });
  t.teardown(() => store.close());
  return store;
}

/** Watch events gathered in order, and a way to wait for one that matches. */
function collector(): { events: WatchEvent[]; onEvent(e: WatchEvent): void; until(match: (e: WatchEvent) => boolean): Promise<WatchEvent> } {
  const events: WatchEvent[] = [];
  const waits: Array<{ match: (e: WatchEvent) => boolean; resolve(e: WatchEvent): void }> = [];
  return {
    events,
    onEvent(e) {
      events.push(e);
      for (const w of waits.filter((w) => w.match(e))) {
        waits.splice(waits.indexOf(w), 1);
        w.resolve(e);
      }
    },
    until(match) {
      const seen = events.find(match);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waits.push({ match, resolve }));
    },
  };
}

const isDelete = (key: string) => (e: WatchEvent) => e.type === 'delete' && e.key === key;
const isPut = (key: string) => (e: WatchEvent) => e.type === 'put' && e.kv.key === key;
const summary = (e: WatchEvent) => (e.type === 'put' ? `put ${e.kv.key}=${e.kv.value}` : `delete ${e.key}`);

/** Polls `condition` every few ms until it holds (bounded by `timeoutMs`: a failure, not a wait that passes anyway). */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Retries `fn` while it rejects with CLUSTER_STORE_UNAVAILABLE (etcd just came back). */
async function whenAvailable<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof SluiceError && err.code === 'CLUSTER_STORE_UNAVAILABLE') || attempt > 200) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

t.test('one etcd for the data tests', async (t) => {
  const etcd = await etcdFor(t);

  t.test('create is exclusive', async (t) => {
    const store = storeFor(t, etcd);
    t.equal(await store.create('a', 'first'), true);
    t.equal(await store.create('a', 'second'), false);
    const a = await store.get('a');
    t.equal(a?.value, 'first');
    t.equal(a?.modRevision, a?.createRevision);
    t.equal(typeof a?.modRevision, 'bigint');
    t.equal(await store.get('missing'), undefined);
  });

  t.test('compareAndPut: one winner among racers with the same revision; 0n means absent', async (t) => {
    const store = storeFor(t, etcd);
    await store.put('leader', 'none');
    const before = (await store.get('leader'))!;
    const results = await Promise.all(['x', 'y', 'z'].map((v) => store.compareAndPut('leader', v, before.modRevision)));
    t.equal(results.filter(Boolean).length, 1, 'exactly one racer wins');
    const after = (await store.get('leader'))!;
    t.equal(after.value, ['x', 'y', 'z'][results.indexOf(true)], 'the winner wrote');
    t.ok(after.modRevision > before.modRevision);
    t.equal(await store.compareAndPut('leader', 'late', before.modRevision), false, 'a stale revision loses');
    t.equal(await store.compareAndPut('fresh', 'v', 0n), true, '0n: written when absent');
    t.equal(await store.compareAndPut('fresh', 'w', 0n), false, '0n: refused when present');
    const fresh = (await store.get('fresh'))!;
    t.equal(await store.compareAndDelete('fresh', fresh.modRevision - 1n), false, 'compareAndDelete on a stale revision');
    t.equal(await store.compareAndDelete('fresh', fresh.modRevision), true);
    t.equal(await store.get('fresh'), undefined);
  });

  t.test('transact: all or none', async (t) => {
    const store = storeFor(t, etcd);
    await store.put('p/0', 'a');
    await store.put('p/1', 'b');
    const [p0, p1] = [(await store.get('p/0'))!, (await store.get('p/1'))!];
    t.equal(await store.transact([{ key: 'p/0', value: 'A', modRevision: p0.modRevision }, { key: 'p/1', modRevision: p1.modRevision - 1n }, { key: 'p/2', value: 'new', modRevision: 0n }]), false, 'one stale revision fails it');
    t.same((await store.list('p/')).values.map((v) => [v.key, v.value, v.modRevision]), [['p/0', 'a', p0.modRevision], ['p/1', 'b', p1.modRevision]], 'nothing was applied');
    t.equal(await store.transact([{ key: 'p/0', value: 'A', modRevision: p0.modRevision }, { key: 'p/1', modRevision: p1.modRevision }, { key: 'p/2', value: 'new', modRevision: 0n }]), true);
    const { values } = await store.list('p/');
    t.same(values.map((v) => [v.key, v.value]), [['p/0', 'A'], ['p/2', 'new']], 'every operation was applied');
    t.equal(values[0]!.modRevision, values[1]!.modRevision, 'in one revision');
    await t.rejects(store.transact([{ key: 'p/0', value: '1', modRevision: 0n }, { key: 'p/0', modRevision: 0n }]), { code: 'INVALID_ARGUMENT' });
  });

  t.test('list + watch from its revision: every later change in order, none before, nothing outside the prefix', async (t) => {
    const store = storeFor(t, etcd);
    for (let i = 0; i < 5; i++) await store.put(`w/${i}`, `old${i}`);
    await store.put('w0', 'outside'); // the byte after '/' ends the range: not under 'w/'
    await store.put('x/1', 'outside');
    const listed = await store.list('w/');
    t.same(listed.values.map((v) => `${v.key}=${v.value}`), ['w/0=old0', 'w/1=old1', 'w/2=old2', 'w/3=old3', 'w/4=old4']);
    t.equal(typeof listed.revision, 'bigint');
    t.ok(listed.values.every((v) => v.modRevision <= listed.revision));

    const seen = collector();
    const watch = await store.watch('w/', listed.revision + 1n, seen.onEvent);
    t.teardown(() => watch.close());
    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      if (i % 4 === 3) {
        await store.deletePrefix(`w/${i - 1}`);
        expected.push(`delete w/${i - 1}`);
      } else {
        await store.put(`w/${i}`, `new${i}`);
        expected.push(`put w/${i}=new${i}`);
      }
      await store.put(`x/${i}`, 'outside');
      await store.put(`w0${i}`, 'outside');
    }
    await store.transact([{ key: 'w/done', value: 'end', modRevision: 0n }]);
    expected.push('put w/done=end');
    await seen.until(isPut('w/done'));
    t.same(seen.events.map(summary), expected, 'every change after the list, in order, each once');
    const revisions = seen.events.map((e) => (e.type === 'put' ? e.kv.modRevision : e.modRevision));
    t.ok(revisions.every((r, i) => r > listed.revision && (i === 0 || r > revisions[i - 1]!)), 'revisions rise from after the list');
  });

  t.test('a watch delivers every event of one revision: a transaction\'s puts, and the keys a revoked lease held', async (t) => {
    const store = storeFor(t, etcd);
    const seen = collector();
    const watch = await store.watch('r/', (await store.list('r/')).revision + 1n, seen.onEvent);
    t.teardown(() => watch.close());
    t.ok(await store.transact([{ key: 'r/a', value: '1', modRevision: 0n }, { key: 'r/b', value: '2', modRevision: 0n }, { key: 'r/c', value: '3', modRevision: 0n }]));
    const lease = await store.lease(5000);
    await store.put('r/leased1', 'x', lease);
    await store.put('r/leased2', 'y', lease);
    await lease.revoke();
    await seen.until(isDelete('r/leased2'));
    await seen.until(isDelete('r/leased1'));
    t.same(seen.events.map(summary).sort(), ['delete r/leased1', 'delete r/leased2', 'put r/a=1', 'put r/b=2', 'put r/c=3', 'put r/leased1=x', 'put r/leased2=y'], 'no event of a shared revision is dropped');
  });

  t.test('a watch from a revision that was already written replays from there', async (t) => {
    const store = storeFor(t, etcd);
    await store.put('h/a', '1');
    const first = (await store.get('h/a'))!;
    await store.put('h/a', '2');
    await store.put('h/b', '3');
    const seen = collector();
    const watch = await store.watch('h/', first.modRevision, seen.onEvent);
    t.teardown(() => watch.close());
    await seen.until(isPut('h/b'));
    t.same(seen.events.map(summary), ['put h/a=1', 'put h/a=2', 'put h/b=3']);
  });

  t.test('a watch whose history was compacted away fails once, through onFailed', async (t) => {
    const store = storeFor(t, etcd);
    await store.put('c/a', '1');
    const { revision } = await store.list('c/');
    await store.put('c/a', '2');
    await store.put('c/a', '3');
    const latest = (await store.get('c/a'))!;
    await etcd.compact(latest.modRevision);
    const seen = collector();
    const failures: SluiceError[] = [];
    const failed = new Promise<void>((resolve) => {
      void store.watch('c/', revision + 1n, seen.onEvent, (err) => (failures.push(err), resolve())).then((w) => t.teardown(() => w.close()));
    });
    await failed;
    t.equal(failures.length, 1);
    t.match(failures[0], { code: 'CLUSTER_STORE_UNAVAILABLE', message: /compacted/ });
    t.same(seen.events, [], 'no event: the history from there is gone');
  });

  t.test("a lease's key goes when the lease is revoked", async (t) => {
    const store = storeFor(t, etcd);
    const lease = await store.lease(1000);
    t.equal(lease.ttlMs, 1000, 'etcd granted 1 s');
    t.match(lease.id, /^\d+$/);
    t.equal(await store.create('l/owned', 'mine', lease), true);
    t.equal(await store.create('l/owned', 'theirs'), false);
    const { revision } = await store.list('l/');
    const seen = collector();
    const watch = await store.watch('l/', revision + 1n, seen.onEvent);
    t.teardown(() => watch.close());
    await lease.revoke();
    await seen.until(isDelete('l/owned'));
    t.equal(await store.get('l/owned'), undefined);
    t.equal(lease.validUntilMs(), Number.NEGATIVE_INFINITY, 'a revoked lease is valid nowhere');
    await lease.revoke(); // twice is fine
  });

  t.test("a kept-alive lease outlives its TTL; once its holder stops, its key goes", async (t) => {
    const holder = storeFor(t, etcd, { prefix: `/sluice/test-${process.pid}-shared/` });
    const observer = storeFor(t, etcd, { prefix: `/sluice/test-${process.pid}-shared/` });
    const lease = await holder.lease(1000);
    const grantedUntil = lease.validUntilMs();
    t.ok(grantedUntil > monotonicClock.nowMs(), 'validUntilMs is in the future while alive');
    await holder.put('k/member', 'holder', lease);
    // Keepalives confirmed well past the first TTL: the key is still there, so they did keep it.
    await until(() => lease.validUntilMs() > grantedUntil + 1500, 'keepalives past the first TTL');
    t.ok(lease.validUntilMs() > monotonicClock.nowMs(), 'still in the future');
    t.equal((await observer.get('k/member'))?.value, 'holder', 'the key outlived the first TTL');

    const { revision } = await observer.list('k/');
    const seen = collector();
    const watch = await observer.watch('k/', revision + 1n, seen.onEvent);
    t.teardown(() => watch.close());
    let lost = false;
    lease.onLost(() => (lost = true));
    await holder.close(); // stops the keepalives, does not revoke
    await seen.until(isDelete('k/member'));
    t.equal(await observer.get('k/member'), undefined, 'etcd expired the lease');
    t.equal(lost, false, 'onLost is not called after the holder closed its store');
  });

  t.test('onLost fires when another client revokes the lease', async (t) => {
    const holder = storeFor(t, etcd);
    const other = storeFor(t, etcd);
    const lease = await holder.lease(1000);
    await holder.put('member', 'holder', lease);
    let calls = 0;
    const lost = new Promise<void>((resolve) => lease.onLost(() => (calls++, resolve())));
    await other.revokeLease(lease.id);
    await lost;
    t.equal(lease.validUntilMs(), Number.NEGATIVE_INFINITY);
    t.equal(await holder.get('member'), undefined);
    const late = new Promise<void>((resolve) => lease.onLost(resolve));
    await late; // a listener registered after the loss is called too
    t.equal(calls, 1, 'once');
    await other.revokeLease(lease.id); // already gone: fine
  });
});

t.test('validUntilMs counts from when the keepalive was sent, not from its answer', async (t) => {
  const etcd = await etcdFor(t);
  // A clock the test moves; it records what each read returned.
  const clock = { value: 1000, reads: [] as number[], nowMs() { this.reads.push(this.value); return this.value; } };
  const store = storeFor(t, etcd, { clock });
  const lease: StoreLease = await store.lease(1000);
  t.equal(lease.validUntilMs(), 2000, 'grant sent at 1000, TTL 1 s');
  // A keepalive sent at 1100 and answered.
  clock.value = 1100;
  await until(() => lease.validUntilMs() === 2100, 'a keepalive sent at 1100');
  // Right after that answer (the next keepalive is a third of the TTL away), freeze etcd: the next
  // keepalive is sent but cannot be answered.
  await etcd.kill('SIGSTOP');
  clock.value = 1500;
  const readsBefore = clock.reads.length;
  await until(() => clock.reads.length > readsBefore, 'the next keepalive to be sent');
  t.same(clock.reads.slice(readsBefore), [1500], 'one read: the send');
  // The answer comes later on the clock; the lease is valid from the send.
  clock.value = 1700;
  await etcd.kill('SIGCONT');
  await until(() => lease.validUntilMs() !== 2100, 'the answer');
  t.equal(lease.validUntilMs(), 2500, 'sent at 1500 + 1 s (an answer-time reading would give 2700)');
  await lease.revoke();
});

t.test('a watch survives an etcd restart and resumes after the last event it delivered', async (t) => {
  const etcd = await etcdFor(t);
  const prefix = `/sluice/test-${process.pid}-restart/`;
  const store = storeFor(t, etcd, { prefix });
  const other = storeFor(t, etcd, { prefix });
  const seen = collector();
  const { revision } = await store.list('r/');
  const watch = await store.watch('r/', revision + 1n, seen.onEvent);
  t.teardown(() => watch.close());
  await store.put('r/1', 'before');
  await seen.until(isPut('r/1'));
  await etcd.restart();
  // create, not put: a retried write that had in fact been applied must not show up twice.
  await whenAvailable(() => store.create('r/2', 'after'));
  await seen.until(isPut('r/2'));
  // Another client writes too: the watch keeps going.
  await whenAvailable(() => other.create('r/3', 'later'));
  await seen.until(isPut('r/3'));
  t.same(seen.events.map(summary), ['put r/1=before', 'put r/2=after', 'put r/3=later'], 'each event once, in order');
});

t.test('while etcd is down or frozen, operations reject with CLUSTER_STORE_UNAVAILABLE within the dial timeout', async (t) => {
  const etcd = await etcdFor(t);
  const dialTimeoutMs = 1000;
  const store = storeFor(t, etcd, { dialTimeoutMs });
  await store.put('k', 'v');
  const k = (await store.get('k'))!;
  const operations: Array<[string, () => Promise<unknown>]> = [
    ['get', () => store.get('k')],
    ['list', () => store.list('')],
    ['put', () => store.put('k', 'w')],
    ['create', () => store.create('n', 'v')],
    ['compareAndPut', () => store.compareAndPut('k', 'w', k.modRevision)],
    ['compareAndDelete', () => store.compareAndDelete('k', k.modRevision)],
    ['transact', () => store.transact([{ key: 'k', value: 'w', modRevision: k.modRevision }])],
    ['deletePrefix', () => store.deletePrefix('k')],
    ['lease', () => store.lease(1000)],
    ['watch', () => store.watch('', 0n, () => undefined)],
  ];
  const expectUnavailable = async (state: string) => {
    for (const [name, op] of operations) {
      const startMs = monotonicClock.nowMs();
      const err = await op().then(
        () => undefined,
        (e: unknown) => e,
      );
      const tookMs = monotonicClock.nowMs() - startMs;
      t.ok(err instanceof SluiceError, `${name} (${state}) rejects with a SluiceError: ${String(err)}`);
      t.match(err, { code: 'CLUSTER_STORE_UNAVAILABLE', retriable: true }, `${name} (${state})`);
      t.match((err as Error).message, new RegExp(etcd.endpoint.replace(/[.:/]/g, '\\$&')), 'the message names the endpoint');
      // Bounded by the dial timeout (with room for a loaded machine), not by gRPC's own minutes.
      t.ok(tookMs < dialTimeoutMs * 4, `${name} (${state}) gave up in ${Math.round(tookMs)} ms`);
    }
  };

  await etcd.kill('SIGSTOP'); // frozen: connections stay open, nothing answers (deadlines)
  await expectUnavailable('frozen');
  await etcd.kill('SIGCONT');
  await etcd.stop(); // gone: connections refused
  await expectUnavailable('stopped');

  await etcd.restart();
  await whenAvailable(() => store.put('k', 'back'));
  t.equal((await store.get('k'))?.value, 'back', 'the store works again once etcd is back');
});
