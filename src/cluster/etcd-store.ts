// The cluster's coordination store: etcd (v3 API over gRPC), reached through the `etcd3` client.
// This is the only module that imports etcd3 (and cockatiel, its fault-handling library); the
// cluster logic sees keys relative to one prefix, values as strings and revisions as bigint.
// It owns:
//   - key prefixing and prefix ranges (every key lives under `options.prefix`);
//   - compare-and-swap writes on a key's mod revision, alone or several in one transaction;
//   - watches that deliver every event of a prefix in revision order from a given revision and,
//     after a lost connection or an etcd restart, resume right after the last event delivered;
//   - leases kept alive by our own loop, so that `validUntilMs` counts from when a keepalive was
//     SENT (etcd3's own loop records when the answer came, which is later: not a fencing basis);
//   - turning etcd's failures into SluiceErrors (CLUSTER_STORE_UNAVAILABLE when etcd could not be
//     reached or did not answer within `dialTimeoutMs`).
// No call is retried here: a compare-and-swap retried after a lost answer would report "lost the
// race" for a write that in fact happened. A write that rejects with CLUSTER_STORE_UNAVAILABLE may
// or may not have happened; the caller reads again.

import { performance } from 'node:perf_hooks';
import {
  ClientClosedError,
  Etcd3,
  EtcdWatchStreamEnded,
  isRecoverableError,
  type ICompare,
  type IKeyValue,
  type IRequestOp,
  type IWatchResponse,
  type Watcher,
} from 'etcd3';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, isBrokenCircuitError, noop, type IBackoff } from 'cockatiel';
import { monotonicClock, type Clock } from '../clock.js';
import { SluiceError } from '../errors.js';

export interface StoredValue {
  key: string;
  value: string;
  modRevision: bigint;
  createRevision: bigint;
}

export type WatchEvent = { type: 'put'; kv: StoredValue } | { type: 'delete'; key: string; modRevision: bigint };

export interface StoreWatch {
  close(): Promise<void>;
}

export interface StoreLease {
  /** The lease id (decimal string: etcd lease ids are int64). */
  readonly id: string;
  /**
   * Local monotonic time (ms, on the store's clock) at which the last keepalive that etcd confirmed
   * was SENT, plus the TTL etcd reported: until then etcd cannot have expired the lease. -Infinity
   * once the lease is lost or revoked.
   */
  validUntilMs(): number;
  /**
   * Called once when the lease is lost: a keepalive answer says it expired or was revoked (by
   * anyone but this holder). The holder must stop acting on it. Not called for the holder's own
   * revoke() nor after the store is closed. Registered after the loss, it is called at once.
   */
  onLost(listener: () => void): void;
  /** Stops the keepalives and revokes the lease: its keys go at once. */
  revoke(): Promise<void>;
  /** The TTL etcd granted, in ms (what was asked, rounded up to whole seconds; etcd may raise it to its minimum). */
  readonly ttlMs: number;
}

export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. `http://127.0.0.1:2379`. */
  endpoints: string[];
  /** Every key is relative to this, e.g. `/sluice/clusterA/`. */
  prefix: string;
  /**
   * How long one operation may take, connecting included, before it rejects with
   * CLUSTER_STORE_UNAVAILABLE (default 5000). Also bounds how long watch() waits for etcd to
   * accept the watch.
   */
  dialTimeoutMs?: number;
  /**
   * The clock leases measure keepalive send times on. It must be monotonic: the default is
   * performance.now(), not src/clock.ts's systemClock (wall time, which can jump).
   */
  clock?: Clock;
}

/** The clock leases measure by unless told otherwise (src/clock.ts). */
export { monotonicClock };

const DEFAULT_DIAL_TIMEOUT_MS = 5000;
/** etcd3 re-opens a failed watch stream after this (a constant backoff: PrefixWatch paces its own retries). */
const WATCH_STREAM_BACKOFF: IBackoff<unknown> = { duration: 250, next: () => WATCH_STREAM_BACKOFF };
/** Keys per range request when listing (all pages read at the first page's revision). */
const LIST_PAGE_KEYS = 1000;

export class EtcdStore {
  readonly #client: Etcd3;
  readonly #prefix: Buffer;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #endpoints: string;
  readonly #leases = new Set<EtcdLease>();
  readonly #watches = new Set<PrefixWatch>();
  #closed = false;

  private constructor(options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) throw new SluiceError('INVALID_CONFIG', 'the cluster store needs at least one etcd endpoint');
    this.#prefix = Buffer.from(options.prefix, 'utf8');
    this.#timeoutMs = options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    this.#clock = options.clock ?? monotonicClock;
    this.#endpoints = options.endpoints.join(',');
    this.#client = new Etcd3({
      hosts: options.endpoints,
      // With several endpoints, a dead one is skipped for a second after three failures in a row
      // (the call goes to another endpoint), then tried again. With one there is nowhere else to
      // go: every call tries it. Calls are never retried (see the top comment).
      faultHandling: {
        host: () => (options.endpoints.length > 1 ? circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }) : noop),
        global: noop,
        // Our watches re-attach themselves after their own backoff (PrefixWatch), which also
        // reopens the stream; etcd3's own retry of the stream only needs to be as quick.
        watchBackoff: WATCH_STREAM_BACKOFF,
      },
      grpcOptions: {
        // gRPC's default reconnect backoff grows to 120 s: calls would fail long after etcd is back.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        // Finds a silently dead connection (no FIN) under a watch; etcd refuses pings under 5 s apart.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      },
      // Every unary call has a deadline; streams (watch, keepalive) are bounded by their own timers.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + this.#timeoutMs }),
    });
  }

  static connect(options: EtcdStoreOptions): EtcdStore {
    return new EtcdStore(options);
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const res = await this.#call(`get ${key}`, () => this.#client.kv.range({ key: this.#key(key) }));
    const kv = res.kvs[0];
    return kv ? this.#stored(kv) : undefined;
  }

  /**
   * Every key under `prefix` (relative), in key order, with the store revision the read saw: every
   * page is read at that revision, and `watch(prefix, revision + 1n, ...)` sees exactly what came after.
   */
  async list(prefix: string): Promise<{ values: StoredValue[]; revision: bigint }> {
    const start = this.#key(prefix);
    const end = prefixEnd(start);
    const values: StoredValue[] = [];
    let revision: string | undefined;
    let from = start;
    for (;;) {
      const page = await this.#call(`list under ${JSON.stringify(prefix)}`, () =>
        this.#client.kv.range({ key: from, range_end: end, limit: LIST_PAGE_KEYS, ...(revision === undefined ? {} : { revision }) }),
      );
      revision ??= page.header.revision;
      for (const kv of page.kvs) values.push(this.#stored(kv));
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || !last) break;
      from = Buffer.concat([last.key, Buffer.from([0])]); // the next key after `last`
    }
    return { values, revision: BigInt(revision) };
  }

  /**
   * Events for keys under `prefix` from `fromRevision` on (inclusive: after a list, pass its
   * revision + 1n; 0n means from now), in revision order, each once. It survives lost connections
   * and etcd restarts: it resumes right after the last event delivered. If etcd cancels it (its
   * resume revision was compacted away), `onFailed` is called once and no event follows: list again
   * and watch anew. Rejects with CLUSTER_STORE_UNAVAILABLE when etcd does not accept the watch
   * within dialTimeoutMs.
   */
  async watch(prefix: string, fromRevision: bigint, onEvent: (e: WatchEvent) => void, onFailed?: (err: SluiceError) => void): Promise<StoreWatch> {
    this.#checkOpen(`watch under ${JSON.stringify(prefix)}`);
    const watch = new PrefixWatch(this.#client, this.#key(prefix), fromRevision, (kv) => this.#stored(kv), (kv) => this.#relative(kv.key), onEvent, onFailed, () => this.#watches.delete(watch));
    this.#watches.add(watch);
    try {
      await watch.started(this.#timeoutMs, `watch under ${JSON.stringify(prefix)} at ${this.#endpoints}`);
    } catch (err) {
      await watch.close();
      throw err;
    }
    return watch;
  }

  /** Writes only if the key does not exist; true when written. With a lease the key goes when the lease does. */
  async create(key: string, value: string, lease?: StoreLease): Promise<boolean> {
    return this.#txn(`create ${key}`, [{ key: this.#key(key), target: 'Mod', result: 'Equal', mod_revision: '0' }], [this.#putOp(key, value, lease)]);
  }

  /** Writes only if the key's modRevision is still `modRevision` (0n: must not exist); true when written. */
  async compareAndPut(key: string, value: string, modRevision: bigint): Promise<boolean> {
    return this.#txn(`compare-and-put ${key}@${modRevision}`, [this.#compareMod(key, modRevision)], [this.#putOp(key, value)]);
  }

  /** Deletes only if the key's modRevision is still `modRevision`; true when deleted. */
  async compareAndDelete(key: string, modRevision: bigint): Promise<boolean> {
    return this.#txn(`compare-and-delete ${key}@${modRevision}`, [this.#compareMod(key, modRevision)], [{ request_delete_range: { key: this.#key(key) } }]);
  }

  /**
   * Several compare-and-puts/deletes in one transaction: all or none (true when all were applied).
   * Each key at most once; etcd allows 128 operations per transaction by default (--max-txn-ops).
   */
  async transact(ops: Array<{ key: string; value?: string /* absent: delete */; modRevision: bigint }>): Promise<boolean> {
    const keys = new Set(ops.map((op) => op.key));
    if (keys.size !== ops.length) throw new SluiceError('INVALID_ARGUMENT', 'a cluster store transaction names a key more than once');
    if (ops.length === 0) return true;
    return this.#txn(
      `transaction on ${ops.map((op) => op.key).join(', ')}`,
      ops.map((op) => this.#compareMod(op.key, op.modRevision)),
      ops.map((op) => (op.value === undefined ? { request_delete_range: { key: this.#key(op.key) } } : this.#putOp(op.key, op.value))),
    );
  }

  async put(key: string, value: string, lease?: StoreLease): Promise<void> {
    await this.#call(`put ${key}`, () => this.#client.kv.put({ key: this.#key(key), value: Buffer.from(value, 'utf8'), ...(lease ? { lease: lease.id } : {}) }));
  }

  async deletePrefix(prefix: string): Promise<void> {
    const start = this.#key(prefix);
    await this.#call(`delete under ${JSON.stringify(prefix)}`, () => this.#client.kv.deleteRange({ key: start, range_end: prefixEnd(start) }));
  }

  /**
   * A lease of `ttlMs` (rounded up to whole seconds, etcd's unit, at least 1 s; etcd may grant more,
   * and validUntilMs uses what it granted), kept alive until revoked or lost; keepalives every ttl/3.
   */
  async lease(ttlMs: number): Promise<StoreLease> {
    const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const sentAtMs = this.#clock.nowMs();
    const res = await this.#call(`grant a ${ttlSeconds} s lease`, () => this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    if (res.error) throw new SluiceError('UNKNOWN_SERVER_ERROR', `etcd refused a ${ttlSeconds} s lease: ${res.error}`);
    const lease = new EtcdLease(this.#client, res.ID, Number(res.TTL) * 1000, sentAtMs, this.#clock, this.#timeoutMs, this.#endpoints, () => this.#leases.delete(lease));
    this.#leases.add(lease);
    lease.start();
    return lease;
  }

  /**
   * Revokes a lease by id, whoever holds it (e.g. to fence off a member that stopped answering):
   * its keys go at once, and its holder's onLost fires at its next keepalive. A lease that is
   * already gone counts as revoked.
   */
  async revokeLease(id: string): Promise<void> {
    this.#checkOpen(`revoke lease ${id}`);
    await revokeLeaseById(this.#client, id, this.#timeoutMs, this.#endpoints);
  }

  /** Stops every lease's keepalives (without revoking: they expire after their TTL) and every watch, then disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const lease of this.#leases) lease.stop();
    await Promise.all([...this.#watches].map((w) => w.close()));
    this.#client.close();
  }

  async #txn(what: string, compare: ICompare[], success: IRequestOp[]): Promise<boolean> {
    const res = await this.#call(what, () => this.#client.kv.txn({ compare, success, failure: [] }));
    return res.succeeded;
  }

  #compareMod(key: string, modRevision: bigint): ICompare {
    // A missing key compares as mod revision 0, so 0n means "must not exist".
    return { key: this.#key(key), target: 'Mod', result: 'Equal', mod_revision: modRevision.toString() };
  }

  #putOp(key: string, value: string, lease?: StoreLease): IRequestOp {
    return { request_put: { key: this.#key(key), value: Buffer.from(value, 'utf8'), ...(lease ? { lease: lease.id } : {}) } };
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.#checkOpen(what);
    try {
      return await fn();
    } catch (err) {
      throw storeError(`${what} at ${this.#endpoints}`, err);
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new SluiceError('CLUSTER_STORE_UNAVAILABLE', `${what}: the cluster store client is closed`);
  }

  #key(relative: string): Buffer {
    return Buffer.concat([this.#prefix, Buffer.from(relative, 'utf8')]);
  }

  #relative(key: Buffer): string {
    return key.subarray(this.#prefix.length).toString('utf8');
  }

  #stored(kv: IKeyValue): StoredValue {
    return { key: this.#relative(kv.key), value: kv.value.toString('utf8'), modRevision: BigInt(kv.mod_revision), createRevision: BigInt(kv.create_revision) };
  }
}

/** The end of the range of keys starting with `prefix` (etcd's rule: the prefix with its last byte below 0xff incremented). */
function prefixEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]); // every key (an empty or all-0xff prefix)
}

/** etcd3's errors as SluiceErrors: a connection or deadline failure is CLUSTER_STORE_UNAVAILABLE; anything else is a refusal. */
function storeError(what: string, err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (isBrokenCircuitError(err)) return new SluiceError('CLUSTER_STORE_UNAVAILABLE', `${what}: every etcd endpoint failed its last calls (each is tried again a second after)`, { cause: err });
  const unreachable = (err instanceof Error && isRecoverableError(err)) || err instanceof ClientClosedError || err instanceof EtcdWatchStreamEnded;
  if (unreachable) return new SluiceError('CLUSTER_STORE_UNAVAILABLE', `${what}: etcd could not be reached or did not answer (${detail})`, { cause: err });
  return new SluiceError('UNKNOWN_SERVER_ERROR', `${what}: etcd refused it (${detail})`, { cause: err });
}

async function revokeLeaseById(client: Etcd3, id: string, timeoutMs: number, endpoints: string): Promise<void> {
  try {
    await client.leaseClient.leaseRevoke({ ID: id }, { deadline: Date.now() + timeoutMs });
  } catch (err) {
    // etcd answers NotFound for a lease that already expired or was revoked: it is gone either way.
    if (/requested lease not found/.test(err instanceof Error ? err.message : '')) return;
    throw storeError(`revoke lease ${id} at ${endpoints}`, err);
  }
}

/**
 * One lease and its keepalive loop: one keepalive in flight at a time, each on a short-lived
 * stream, sent every ttl/3 after the previous one was sent. The send time is taken before the
 * request leaves, so sentAt + TTL is never later than etcd's own expiry for that renewal.
 */
class EtcdLease implements StoreLease {
  #validUntilMs: number;
  #state: 'alive' | 'lost' | 'revoked' | 'stopped' = 'alive';
  #timer: NodeJS.Timeout | undefined;
  #lastSentAtMs: number;
  readonly #listeners: Array<() => void> = [];

  constructor(
    private readonly client: Etcd3,
    readonly id: string,
    /** The TTL etcd granted (it may raise a short one to its minimum). */
    readonly ttlMs: number,
    grantSentAtMs: number,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly endpoints: string,
    private readonly forget: () => void,
  ) {
    this.#lastSentAtMs = grantSentAtMs;
    this.#validUntilMs = grantSentAtMs + ttlMs;
  }

  validUntilMs(): number {
    return this.#state === 'lost' || this.#state === 'revoked' ? Number.NEGATIVE_INFINITY : this.#validUntilMs;
  }

  onLost(listener: () => void): void {
    if (this.#state === 'lost') queueMicrotask(listener);
    else this.#listeners.push(listener);
  }

  async revoke(): Promise<void> {
    if (this.#state === 'revoked') return;
    this.stop();
    this.#state = 'revoked';
    await revokeLeaseById(this.client, this.id, this.timeoutMs, this.endpoints);
  }

  start(): void {
    this.#schedule();
  }

  /** Stops the keepalives; the lease then expires after its TTL unless revoked. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#state === 'alive') this.#state = 'stopped';
    this.forget();
  }

  #schedule(): void {
    if (this.#state !== 'alive') return;
    const delayMs = Math.max(0, this.#lastSentAtMs + this.ttlMs / 3 - this.clock.nowMs());
    this.#timer = setTimeout(() => void this.#keepalive(), delayMs);
    this.#timer.unref();
  }

  async #keepalive(): Promise<void> {
    this.#timer = undefined;
    if (this.#state !== 'alive') return;
    const sentAtMs = this.clock.nowMs();
    this.#lastSentAtMs = sentAtMs;
    let ttlSeconds: number | undefined;
    try {
      ttlSeconds = await this.#keepaliveOnce();
    } catch {
      // etcd unreachable or slow: try again at the next tick; validUntilMs stays where it was, so the
      // holder stops acting on the lease by itself if this goes on.
    }
    if (this.#state !== 'alive') return;
    if (ttlSeconds === 0) {
      this.#lose();
      return;
    }
    if (ttlSeconds !== undefined) this.#validUntilMs = Math.max(this.#validUntilMs, sentAtMs + ttlSeconds * 1000);
    this.#schedule();
  }

  /** One keepalive on its own stream; resolves with the TTL etcd answered (0: the lease is gone). */
  async #keepaliveOnce(): Promise<number> {
    // An answer later than the TTL could not extend validUntilMs past now: give up by then.
    const deadline = Date.now() + Math.min(this.ttlMs, this.timeoutMs);
    const stream = await this.client.leaseClient.leaseKeepAlive({ deadline });
    try {
      return await new Promise<number>((resolve, reject) => {
        stream.on('data', (res: { TTL: string }) => resolve(Number(res.TTL)));
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('the keepalive stream ended without an answer')));
        stream.write({ ID: this.id });
      });
    } finally {
      stream.end();
    }
  }

  #lose(): void {
    this.stop();
    this.#state = 'lost';
    for (const listener of this.#listeners.splice(0)) listener();
  }
}

/**
 * One prefix watch. etcd3 re-attaches a watcher after a lost stream from the revision after the
 * last response header it saw, which can skip events (a watch catching up gets headers carrying
 * the current revision before every older event has come). So on each disconnect this cancels the
 * etcd3 watcher and, after a short backoff, starts a new one right after the last event delivered.
 */
class PrefixWatch implements StoreWatch {
  #next: bigint;
  #watcher: Watcher | undefined;
  #closed = false;
  #failed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = RETRY_MIN_MS;
  #connected!: () => void;
  #startFailed!: (err: SluiceError) => void;
  /** etcd accepted the watch once: from then on a cancellation goes to onFailed, not to watch()'s caller. */
  #accepted = false;
  readonly #start = new Promise<void>((resolve, reject) => {
    this.#connected = resolve;
    this.#startFailed = reject;
  });

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: Buffer,
    fromRevision: bigint,
    private readonly stored: (kv: IKeyValue) => StoredValue,
    private readonly relative: (kv: IKeyValue) => string,
    private readonly onEvent: (e: WatchEvent) => void,
    private readonly onFailed: ((err: SluiceError) => void) | undefined,
    private readonly forget: () => void,
  ) {
    this.#next = fromRevision;
    this.#attach();
  }

  /** Resolves once etcd accepted the watch; rejects after `timeoutMs` or when etcd refuses it. */
  async started(timeoutMs: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SluiceError('CLUSTER_STORE_UNAVAILABLE', `${what}: etcd did not accept the watch within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.#start, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.forget();
    this.#detach();
  }

  #attach(): void {
    const builder = this.client.watch().inRange({ start: this.prefix, end: prefixEnd(this.prefix) });
    if (this.#next > 0n) builder.startRevision(this.#next.toString());
    // watcher() attaches at once and synchronously: every listener is in place before any answer.
    const watcher = builder.watcher();
    this.#watcher = watcher;
    watcher.on('connected', (res: IWatchResponse) => {
      if (watcher !== this.#watcher) return;
      this.#retryDelayMs = RETRY_MIN_MS;
      this.#accepted = true;
      // Watching "from now": events start after the creation header's revision.
      if (this.#next === 0n) this.#next = BigInt(res.header.revision) + 1n;
      this.#connected();
    });
    watcher.on('data', (res: IWatchResponse) => {
      if (watcher !== this.#watcher || this.#closed) return;
      if (res.events.length === 0) {
        // A progress notification: etcd sends them only to a watch that is caught up, so nothing
        // at or below the header's revision is still to come.
        const caughtUp = BigInt(res.header.revision) + 1n;
        if (caughtUp > this.#next) this.#next = caughtUp;
        return;
      }
      // One transaction's events share a revision (a lease expiry deletes all its keys at once) and
      // arrive in one response: skip what an earlier response delivered, never a sibling event.
      const from = this.#next;
      for (const ev of res.events) {
        const modRevision = BigInt(ev.kv.mod_revision);
        if (modRevision < from) continue; // never deliver twice
        if (modRevision + 1n > this.#next) this.#next = modRevision + 1n;
        if (ev.type === 'Put') this.onEvent({ type: 'put', kv: this.stored(ev.kv) });
        else this.onEvent({ type: 'delete', key: this.relative(ev.kv), modRevision });
      }
    });
    watcher.on('disconnected', () => {
      if (watcher !== this.#watcher || this.#closed) return;
      // Drop etcd3's watcher (while disconnected, cancel() only forgets it) and start anew from #next.
      void watcher.cancel();
      this.#watcher = undefined;
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        if (!this.#closed) this.#attach();
      }, this.#retryDelayMs);
      this.#retryDelayMs = Math.min(RETRY_MAX_MS, this.#retryDelayMs * 2);
    });
    watcher.on('error', (err: Error) => {
      if (watcher !== this.#watcher || this.#closed) return;
      // etcd cancelled the watch, typically because the revision to resume from was compacted.
      this.#watcher = undefined;
      const failure = new SluiceError('CLUSTER_STORE_UNAVAILABLE', `etcd cancelled the watch of ${this.prefix.toString('utf8')} from revision ${this.#next} (compacted history?): list again (${err.message})`, { cause: err });
      if (!this.#accepted) this.#startFailed(failure);
      else if (!this.#failed) {
        this.#failed = true;
        this.onFailed?.(failure);
      }
    });
  }

  #detach(): void {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    // Nothing is delivered once closed; etcd's answer to the cancel is not waited for (a frozen
    // etcd would hold close() up), and the client's close() ends the stream anyway.
    if (watcher) void watcher.cancel().catch(() => undefined);
  }
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1000;
