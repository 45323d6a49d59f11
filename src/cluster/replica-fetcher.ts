// A follower's copy loop for the partitions one leader broker leads (Kafka's ReplicaFetcherThread):
// one Sluice-protocol connection to the leader, over which it first truncates each newly followed
// partition to where its latest leader epoch ended at the leader (OffsetForLeaderEpoch; a tail the
// old leader wrote but never committed goes), then long-polls Fetch as replica `nodeId` from its
// own log end. The leader serves those fetches from the page cache over the same zero-copy path
// as consumers; the batches are appended here byte for byte (offsets and epochs as the leader
// stamped them), and the leader's high watermark and log start are taken over as far as this log
// reaches. A fetch offset below the leader's log start empties the log and starts it there.
//
// Errors: a leader that does not lead the partition at this epoch (it has not read the record
// that made it leader yet, or another broker leads now and this one's view is behind) is asked
// again after a backoff, truncation first, until the cluster view moves the partition to another
// fetcher; a lost connection is retried with backoff. The loop ends on `stop()`.

import type { Logger } from 'pino';
import { SluiceError } from '../errors.js';
import { authenticate, Connection, responseError } from '../client/connection.js';
import { UNDEFINED_EPOCH } from '../log/leader-epochs.js';
import type { Partition } from '../log/partition.js';
import { ApiKey, type FetchResponse, type OffsetForLeaderEpochResponse } from '../protocol/messages.js';

export interface FetcherOptions {
  nodeId: number;
  leaderId: number;
  address: () => { host: string; port: number } | undefined;
  logger: Logger;
  maxWaitMs?: number;
  /** Authenticates each connection to the leader with this (brokers run with --auth-file). */
  token?: string;
  maxBytes?: number;
  partitionMaxBytes?: number;
  backoffMs?: number;
}

interface Followed {
  partition: Partition;
  epoch: number;
  /** Truncated to the leader's log for this epoch: fetching may begin. */
  truncated: boolean;
  /** Refused by the leader: left out of requests until then (ms, performance.now()); the others go on. */
  retryAtMs: number;
  /** Refusals in a row, for the backoff. */
  refusals: number;
}

export class ReplicaFetcher {
  readonly leaderId: number;
  readonly #o: FetcherOptions;
  readonly #followed = new Map<Partition, Followed>();
  #connection: Connection | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  readonly #done: Promise<void>;

  constructor(options: FetcherOptions) {
    this.#o = options;
    this.leaderId = options.leaderId;
    this.#done = this.#run();
  }

  get size(): number {
    return this.#followed.size;
  }

  /** Follows `partition` at `epoch` (again, if it was followed at another). */
  follow(partition: Partition, epoch: number): void {
    const known = this.#followed.get(partition);
    if (known && known.epoch === epoch) return;
    this.#followed.set(partition, { partition, epoch, truncated: false, retryAtMs: 0, refusals: 0 });
    this.#wake?.();
  }

  unfollow(partition: Partition): void {
    this.#followed.delete(partition);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#connection?.close().catch(() => undefined);
    await this.#done;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      const now = performance.now();
      const followed = [...this.#followed.values()].filter((f) => !f.partition.closed);
      const active = followed.filter((f) => f.retryAtMs <= now);
      if (active.length === 0) {
        // Nothing to follow, or every partition waits out a refusal: sleep until the first may go again.
        const next = Math.min(...followed.map((f) => f.retryAtMs));
        await sleep(Number.isFinite(next) ? next - now : 60_000, (wake) => (this.#wake = wake));
        this.#wake = undefined;
        continue;
      }
      try {
        const connection = await this.#connect();
        for (const f of active.filter((f) => !f.truncated)) await this.#truncate(connection, f);
        await this.#fetch(connection, active.filter((f) => f.truncated && f.retryAtMs <= performance.now()));
        failures = 0;
      } catch (err) {
        if (this.#stopped) break;
        failures++;
        this.#o.logger.debug({ leader: this.leaderId, err: (err as Error).message }, 'replica fetch failed; retrying');
        await this.#connection?.close().catch(() => undefined);
        this.#connection = undefined;
        await sleep(this.#backoffMs(failures), (wake) => (this.#wake = wake));
        this.#wake = undefined;
      }
    }
  }

  /** 100 ms, doubling per failure in a row, at most 2 s. */
  #backoffMs(failures: number): number {
    return Math.min((this.#o.backoffMs ?? 100) * 2 ** Math.min(failures - 1, 5), 2_000);
  }

  async #connect(): Promise<Connection> {
    if (this.#connection && !this.#connection.closed) return this.#connection;
    const address = this.#o.address();
    if (!address) throw new SluiceError('BROKER_NOT_AVAILABLE', `leader ${this.leaderId} is not registered`);
    const connection = await Connection.connect({ ...address, clientId: `sluice-replica-${this.#o.nodeId}`, connectTimeoutMs: 3_000 });
    this.#connection = this.#o.token === undefined ? connection : await authenticate(connection, this.#o.token);
    return this.#connection;
  }

  /**
   * Whether `f` is still this fetcher's to act on: followed here, open, and a follower of this
   * leader at its epoch. Checked after every wait: the partition may have moved on meanwhile (this
   * broker may even lead it now), and an answer from the old leader must not cut its log then.
   */
  #current(f: Followed): boolean {
    const role = f.partition.role;
    return !this.#stopped && this.#followed.get(f.partition) === f && !f.partition.closed && role?.kind === 'follower' && role.leaderId === this.leaderId && role.epoch === f.epoch;
  }

  /** Kafka's truncation by leader epoch: until this log's latest epoch ends where the leader says it does. */
  async #truncate(connection: Connection, f: Followed): Promise<void> {
    const p = f.partition;
    // Not ours (any more): left alone; should it still be followed here, tried again after a pause, not in a busy loop.
    const abandon = () => void (f.retryAtMs = performance.now() + this.#backoffMs(1));
    for (;;) {
      if (!this.#current(f)) return abandon();
      const latest = p.epochs.latestEpoch;
      if (latest === UNDEFINED_EPOCH) break; // nothing written under any epoch: nothing to cut
      const response = await connection.request(ApiKey.OffsetForLeaderEpoch, 0, {
        replicaId: this.#o.nodeId,
        partitions: [{ topic: p.topic, partition: p.index, leaderEpoch: latest, currentLeaderEpoch: f.epoch }],
      });
      if (!this.#current(f)) return abandon();
      const answer = (response.body as OffsetForLeaderEpochResponse).partitions[0];
      if (!answer) throw new SluiceError('INVALID_REQUEST', 'OffsetForLeaderEpoch answered no partition');
      if (answer.error) {
        this.#refused(f, answer.error.code, answer.error.message);
        return;
      }
      let target: bigint;
      if (answer.leaderEpoch === UNDEFINED_EPOCH) {
        // The leader knows no epoch at or below ours. Cutting on that is how a log gets emptied (a
        // restarted follower knows no high watermark to keep) while it may still be in the ISR:
        // nothing is cut; the partition waits and asks again, and leaves the ISR if it must.
        this.#o.logger.warn({ partition: `${p.topic}-${p.index}`, leader: this.leaderId, latestEpoch: latest }, 'the leader knows no epoch at or below this log\'s latest: not truncating; asking again');
        this.#refused(f, 'UNKNOWN_LEADER_EPOCH', 'the leader answered UNDEFINED_EPOCH');
        return;
      } else {
        const mine = p.epochs.endOffsetFor(answer.leaderEpoch, p.logEndOffset);
        target = answer.endOffset < mine.endOffset ? answer.endOffset : mine.endOffset;
        if (mine.epoch === answer.leaderEpoch || target >= p.logEndOffset) {
          if (target < p.logEndOffset) await this.#truncateTo(p, target);
          break;
        }
      }
      if (target < p.logStartOffset) {
        await p.truncateFullyAndStartAt(target < 0n ? 0n : target);
        break;
      }
      // A divergence older than this log's latest epoch: cut there and ask again about the epoch before.
      await this.#truncateTo(p, target);
      if (target === 0n) break;
    }
    if (this.#current(f)) f.truncated = true;
  }

  async #truncateTo(p: Partition, offset: bigint): Promise<void> {
    const from = p.logEndOffset;
    const end = await p.truncateTo(offset);
    this.#o.logger.warn({ partition: `${p.topic}-${p.index}`, from: String(from), to: String(end), leader: this.leaderId }, 'truncated a divergent log tail to the leader\'s');
  }

  async #fetch(connection: Connection, followed: Followed[]): Promise<void> {
    if (followed.length === 0) return;
    const response = await connection.request(ApiKey.Fetch, 0, {
      maxWaitMs: this.#o.maxWaitMs ?? 500,
      minBytes: 1,
      maxBytes: this.#o.maxBytes ?? 8 * 1024 * 1024,
      replicaId: this.#o.nodeId,
      partitions: followed.map((f) => ({
        topic: f.partition.topic,
        partition: f.partition.index,
        offset: f.partition.logEndOffset,
        maxBytes: this.#o.partitionMaxBytes ?? 1024 * 1024,
        leaderEpoch: f.epoch,
      })),
    });
    const whole = responseError(response.body);
    if (whole) throw whole;
    const parts = (response.body as FetchResponse).partitions;
    let at = 0;
    for (const [i, answer] of parts.entries()) {
      const f = followed[i];
      const bytes = response.data.subarray(at, at + answer.bytes);
      at += answer.bytes;
      // Reassigned or stopped while the fetch was out: what it brought belongs to no one now.
      if (!f || this.#followed.get(f.partition) !== f || f.partition.closed) continue;
      if (answer.error) {
        if (answer.error.code === 'OFFSET_OUT_OF_RANGE' && f.partition.logEndOffset < answer.logStartOffset) {
          await f.partition.truncateFullyAndStartAt(answer.logStartOffset);
          continue;
        }
        this.#refused(f, answer.error.code, answer.error.message);
        continue;
      }
      f.refusals = 0;
      const p = f.partition;
      if (bytes.length > 0) p.appendReplica(bytes);
      const hw = answer.highWatermark < p.logEndOffset ? answer.highWatermark : p.logEndOffset;
      p.setFollowerHighWatermark(hw);
      if (answer.logStartOffset > p.logStartOffset && answer.logStartOffset <= hw) await p.deleteRecordsBefore(answer.logStartOffset);
    }
  }

  /**
   * A partition the leader refused: left out for a backoff (truncation first when it comes back),
   * while the others go on; an error that no waiting cures fails the whole round.
   */
  #refused(f: Followed, code: string, message: string): void {
    const where = `${f.partition.topic}-${f.partition.index}`;
    this.#o.logger.debug({ partition: where, leader: this.leaderId, code, message }, 'the leader refused a replica fetch');
    if (code === 'NOT_LEADER_OR_FOLLOWER' || code === 'FENCED_LEADER_EPOCH' || code === 'UNKNOWN_LEADER_EPOCH' || code === 'UNKNOWN_TOPIC_OR_PARTITION') {
      f.truncated = false;
      f.retryAtMs = performance.now() + this.#backoffMs(++f.refusals);
      return;
    }
    throw new SluiceError(code === 'KAFKA_STORAGE_ERROR' ? 'KAFKA_STORAGE_ERROR' : 'UNKNOWN_SERVER_ERROR', `${where}: replica fetch refused: ${code}: ${message}`);
  }
}

function sleep(ms: number, onWake: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    onWake(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
