// The producer: `send()` picks each record's partition (explicit, murmur2 of the key, or sticky),
// encodes it into that partition's open batch at once (a queued record is bytes, not an object),
// and resolves with its offset once the broker has it at the requested `acks`. A batch is closed
// when the next record would take it past `batchBytes` or it has waited `lingerMs`; closed batches
// share Produce requests of up to 4 MiB, sent as the in-flight limit allows (records sent
// meanwhile go into new batches). A record larger than `batchBytes` is a batch of its own.
//
// Order: the records of one producer to one partition are written in send() order when no retry
// happened. A send() that must wait for its topic's partition count (the first, and the first
// after a retriable error cleared it) holds back every later send() to that topic until it is
// queued itself, so a later call that finds the count cached cannot overtake it.
//
// Idempotence (on by default with acks=all, as in Kafka's clients since 3.0): the producer gets an
// id from the broker (InitProducerId) and stamps each batch with it and a per-partition sequence
// number, assigned when the batch is first sent. Retriable errors (unknown partition during a
// create, a lost connection, a full disk) are retried with backoff, with the same bytes: the broker
// writes a batch it already has once and answers with its first offsets, and refuses a batch whose
// sequence does not follow the last one written (OUT_OF_ORDER_SEQUENCE_NUMBER). A batch refused that
// way while an earlier batch of its partition is still unacknowledged is retried (it overtook a
// retry). A batch that fails for good (too large, retries spent) leaves a gap in its partition's
// sequences (batches already sent behind it there fail too, out of order): the producer then waits
// for what is in flight and bumps its epoch, which starts every partition at sequence 0 again
// (KIP-360), so later sends go on.
// So with idempotence every record is written exactly once, in send() order, whatever the retries
// and however many of the `maxInFlightRequests` requests are pipelined. Per partition at most
// IDEMPOTENT_BATCHES_REMEMBERED (200) batches are out unacknowledged, counted from the oldest: the
// broker recognises a retry only among the last ones it remembers.
// Without it (`idempotent: false`, or acks 0 or 1) a retry writes a record at least once, and
// pipelined retries can reorder batches of one partition, as in Kafka without idempotence.
//
// Routing (a cluster): each request carries batches for one broker, the leader of their
// partitions as the cluster metadata names it (broker-client.ts, cluster-metadata.ts), and up to
// `maxInFlightRequests` requests are out per broker, so requests to different leaders overlap.
// An answer that says leadership moved (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
// FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH) or a lost connection to a broker of the cluster marks
// the topic's metadata stale (its partitions' ready batches wait for a refresh); the failed batches
// are retried, after the backoff and a refresh, at the leader named then, with the same bytes (a
// retry that had landed before the leader changed is answered as a duplicate, not written twice),
// and their partition sends nothing newer until they are answered (see #hold).

import { SluiceError } from '../errors.js';
import { ApiKey, type InitProducerIdResponse, type ProduceResponse } from '../protocol/messages.js';
import { BATCH_HEADER_BYTES, RecordBatchBuilder } from '../protocol/record-batch.js';
import { BrokerClient, sleep, type BrokerTarget, type ClientOptions } from './broker-client.js';
import { isLeadershipError } from './cluster-metadata.js';
import { partitionForKey, StickyPartitioner } from './partitioner.js';
import { IDEMPOTENT_BATCHES_REMEMBERED, type Acks } from '../vocabulary.js';

/** The wire's acknowledgements, or 'all' (the same as -1, as Kafka's clients spell it). */
export type ProducerAcks = Acks | 'all';

export interface ProducerOptions extends ClientOptions {
  /** 0: no response; 1: in the broker's page cache; -1 or 'all': fsynced (default 'all'). */
  acks?: ProducerAcks;
  /** How long a batch waits for more records (default 5 ms). */
  lingerMs?: number;
  /** A batch is sent when it reaches this size (default 64 KiB). */
  batchBytes?: number;
  /** Produce requests awaiting their response, per broker (default 5). */
  maxInFlightRequests?: number;
  /** Exactly once and in order through retries (default: true with acks 'all', which it requires). */
  idempotent?: boolean;
}

export interface ProducerRecord {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer | null>;
  partition?: number;
  timestampMs?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** null with acks=0 (the broker does not answer). */
  offset: bigint | null;
}

/** One send() call: its results fill in as its records' batches are acknowledged. */
interface SendCall {
  results: RecordMetadata[];
  remaining: number;
  settled: boolean;
  resolve(results: RecordMetadata[]): void;
  reject(err: Error): void;
}

function settle(call: SendCall, slot: number, meta: RecordMetadata): void {
  call.results[slot] = meta;
  if (--call.remaining === 0 && !call.settled) {
    call.settled = true;
    call.resolve(call.results);
  }
}

function fail(call: SendCall, err: Error): void {
  if (call.settled) return;
  call.settled = true;
  call.reject(err);
}

/** A batch of one partition: its records are already encoded into `builder` as they are queued. */
interface Batch {
  topic: string;
  partition: number;
  /** Partitions of the topic (for the sticky partitioner's next pick). */
  partitions: number;
  builder: RecordBatchBuilder;
  /** Per record, in order: the send() call it answers and its slot in that call's results. */
  calls: SendCall[];
  slots: number[];
  /** Some record had no key (the sticky partitioner moves on once such a batch is sent). */
  keyless: boolean;
  /** The finished batch, once sent (kept for retries). */
  encoded: Buffer | undefined;
  attempts: number;
  /** Acknowledged or failed for good (an idempotent producer's window, see #settled). */
  settled: boolean;
}

/** An idempotent producer's id and epoch, from the broker. */
type ProducerIdentity = InitProducerIdResponse;

/** The last epoch of a producer id (int16); past it the producer asks for a new id. */
const MAX_EPOCH = 0x7fff;

/** Sequence numbers are int32 and wrap to 0 past 2^31-1, as Kafka's. */
const SEQUENCE_SPAN = 2 ** 31;

/** Batches share one Produce request up to this size. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export class Producer {
  readonly #client: BrokerClient;
  readonly #acks: 0 | 1 | -1;
  readonly #lingerMs: number;
  readonly #batchBytes: number;
  readonly #maxInFlight: number;
  readonly #sticky = new StickyPartitioner();
  /** Batches still taking records: per topic, indexed by partition. */
  readonly #open = new Map<string, Array<Batch | undefined>>();
  /** Per topic and partition, the size of the last batch closed (to size the next one's buffer). */
  readonly #lastBatchBytes = new Map<string, number[]>();
  #openBatches = 0;
  /** Full or lingered batches waiting for a request slot, oldest first. */
  readonly #ready: Batch[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  /** Requests in flight per broker (their retries included), against `maxInFlightRequests`. */
  readonly #inFlightAt = new Map<BrokerTarget, number>();
  /** A metadata refresh ready batches wait for (it never rejects); and how many in a row found no broker. */
  #routeRefresh: Promise<void> | undefined;
  #routeFailures = 0;
  /** Per "topic\0partition": its batches being retried after its leader may have moved (see #hold). */
  readonly #held = new Map<string, number>();
  /** Per topic, send() calls waiting for its partition count, in call order (see "Order" above). */
  readonly #waiting = new Map<string, Array<{ list: readonly ProducerRecord[]; resolve(r: RecordMetadata[]): void; reject(err: Error): void }>>();
  /** Partition-count lookups running (#lookUp never rejects). */
  readonly #lookups = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #idempotent: boolean;
  /** Known once InitProducerId answered; batches wait in #ready until then. */
  #identity: ProducerIdentity | undefined;
  #identityPending: Promise<void> | undefined;
  /** Per "topic\0partition": the next batch's sequence number, and the batches sent from the oldest unsettled one on, in sequence order. */
  readonly #sequences = new Map<string, number>();
  readonly #windows = new Map<string, Batch[]>();
  /** A batch failed for good: bump the epoch once nothing is in flight (see #drain). */
  #epochBumpDue = false;

  constructor(options: ProducerOptions = {}) {
    this.#client = new BrokerClient({ clientId: 'sluice-producer', ...options });
    const acks = options.acks ?? 'all';
    this.#acks = acks === 'all' ? -1 : acks;
    if (![0, 1, -1].includes(this.#acks)) throw new SluiceError('INVALID_CONFIG', `acks must be 0, 1, -1 or 'all', got ${String(acks)}`);
    this.#lingerMs = options.lingerMs ?? 5;
    this.#batchBytes = options.batchBytes ?? 64 * 1024;
    this.#maxInFlight = options.maxInFlightRequests ?? 5;
    if (options.idempotent && this.#acks !== -1) throw new SluiceError('INVALID_CONFIG', `an idempotent producer needs acks 'all', not ${String(acks)}`);
    this.#idempotent = options.idempotent ?? this.#acks === -1;
  }

  /** The producer id and epoch this producer writes with (undefined until its first send, or when not idempotent). */
  get identity(): ProducerIdentity | undefined {
    return this.#identity;
  }

  /** Queues records for `topic`; resolves with their offsets once acknowledged. */
  send(topic: string, records: ProducerRecord | readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    if (this.#closed) return Promise.reject(new SluiceError('INVALID_CONFIG', 'the producer is closed'));
    const list = Array.isArray(records) ? records : [records as ProducerRecord];
    // The partition count is cached after the first send: no extra promise on the hot path.
    const partitions = this.#client.cachedPartitionCount(topic);
    if (partitions !== undefined && !this.#waiting.has(topic)) return this.#queue(topic, list, partitions);
    return new Promise((resolve, reject) => {
      const waiting = this.#waiting.get(topic);
      if (waiting) {
        waiting.push({ list, resolve, reject });
        return;
      }
      this.#waiting.set(topic, [{ list, resolve, reject }]);
      const lookup = this.#lookUp(topic).finally(() => this.#lookups.delete(lookup));
      this.#lookups.add(lookup);
    });
  }

  /** Finds `topic`'s partition count, then queues the calls that waited for it, in call order. */
  async #lookUp(topic: string): Promise<void> {
    let partitions: number | undefined;
    let failure: unknown;
    try {
      partitions = await this.#client.withRetries(() => this.#client.partitionCount(topic));
    } catch (err) {
      failure = err;
    }
    const waiting = this.#waiting.get(topic) ?? [];
    this.#waiting.delete(topic);
    for (const w of waiting) {
      if (partitions === undefined) w.reject(failure instanceof Error ? failure : new SluiceError('UNKNOWN_SERVER_ERROR', String(failure)));
      else this.#queue(topic, w.list, partitions).then(w.resolve, w.reject);
    }
  }

  #queue(topic: string, list: readonly ProducerRecord[], partitions: number): Promise<RecordMetadata[]> {
    const bad = list.find((r) => r.partition !== undefined && (!Number.isInteger(r.partition) || r.partition < 0 || r.partition >= partitions));
    if (bad) return Promise.reject(new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has ${partitions} partitions; there is no partition ${bad.partition}`));
    // One promise per call, not per record: a producer's cost is per record, and garbage is most of it.
    return new Promise((resolve, reject) => {
      const call: SendCall = { results: new Array<RecordMetadata>(list.length), remaining: list.length, settled: false, resolve, reject };
      if (list.length === 0) return resolve([]);
      for (let i = 0; i < list.length; i++) this.#enqueue(topic, list[i]!, partitions, call, i);
    });
  }

  /** Sends everything queued now and waits until it is acknowledged (or failed). */
  async flush(): Promise<void> {
    for (;;) {
      // Calls still waiting for a partition count are queued first.
      if (this.#lookups.size > 0) {
        await Promise.all(this.#lookups);
        continue;
      }
      this.#sealAll();
      if (this.#inFlight.size === 0 && this.#ready.length === 0 && this.#openBatches === 0) return;
      // Batches wait in #ready, with nothing in flight, while the producer id is being asked for.
      if (this.#identityPending) await this.#identityPending;
      else if (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
      else if (this.#routeRefresh) await this.#routeRefresh;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#client.close();
  }

  #enqueue(topic: string, r: ProducerRecord, partitions: number, call: SendCall, slot: number): void {
    const key = typeof r.key === 'string' ? Buffer.from(r.key) : (r.key ?? null);
    // Explicit partitions were checked by send().
    const partition = r.partition ?? (key ? partitionForKey(key, partitions) : this.#sticky.partition(topic, partitions));
    const timestampMs = r.timestampMs ?? Date.now();
    let open = this.#open.get(topic);
    if (!open) this.#open.set(topic, (open = []));
    let batch = open[partition];
    if (batch && !batch.builder.tryAppend(r, timestampMs, this.#batchBytes)) {
      // Full: it leaves the open set, and this record starts the partition's next batch.
      this.#close(open, batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { topic, partition, partitions, builder: new RecordBatchBuilder(this.#capacity(topic, partition, r, key)), calls: [], slots: [], keyless: false, encoded: undefined, attempts: 0, settled: false };
      open[partition] = batch;
      this.#openBatches++;
      batch.builder.tryAppend(r, timestampMs);
    }
    batch.calls.push(call);
    batch.slots.push(slot);
    if (key === null) batch.keyless = true;
    if (batch.builder.sizeBytes >= this.#batchBytes) this.#close(open, batch);
    else this.#timer ??= setTimeout(() => this.#sealAll(), this.#lingerMs);
  }

  /**
   * The buffer a new batch starts with: twice the partition's last batch, within batchBytes (and
   * at least this record). A slow stream's batches hold a few records; giving each the whole of
   * batchBytes made the allocator, not the records, drive garbage collection.
   */
  #capacity(topic: string, partition: number, r: ProducerRecord, key: Buffer | null): number {
    const last = this.#lastBatchBytes.get(topic)?.[partition] ?? this.#batchBytes;
    const record = 64 + (key?.length ?? 0) + (r.value?.length ?? 0);
    return Math.max(record + BATCH_HEADER_BYTES, Math.min(this.#batchBytes, 2 * last));
  }

  /** A batch is done taking records: ready to send. */
  #toReady(batch: Batch): void {
    let sizes = this.#lastBatchBytes.get(batch.topic);
    if (!sizes) this.#lastBatchBytes.set(batch.topic, (sizes = []));
    sizes[batch.partition] = batch.builder.sizeBytes;
    this.#ready.push(batch);
  }

  /** A full batch: ready to send, and sent if a request slot is free. */
  #close(open: Array<Batch | undefined>, batch: Batch): void {
    open[batch.partition] = undefined;
    this.#openBatches--;
    this.#toReady(batch);
    this.#drain();
  }

  /** Lingering is over: every open batch is ready to go. */
  #sealAll(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const open of this.#open.values()) {
      for (const b of open) if (b) this.#toReady(b);
    }
    this.#open.clear();
    this.#openBatches = 0;
    this.#drain();
  }

  /**
   * Sends ready batches, each to its partition's leader: per broker, requests of up to
   * `MAX_REQUEST_BYTES` while its in-flight limit allows. Batches of a topic whose metadata is stale
   * wait for a refresh. Every reason a batch waits holds for its whole partition, so none of its
   * later batches can pass it.
   */
  #drain(): void {
    if (this.#epochBumpDue && this.#identity) {
      // Nothing goes out under the old epoch's sequences any more: once every request is answered,
      // the next epoch starts every partition at sequence 0 (a new id past the last epoch).
      if (this.#inFlight.size > 0) return;
      const next = this.#identity.producerEpoch + 1;
      this.#identity = next > MAX_EPOCH ? undefined : { ...this.#identity, producerEpoch: next };
      this.#sequences.clear();
      this.#windows.clear();
      this.#epochBumpDue = false;
    }
    if (this.#idempotent && !this.#identity) {
      if (this.#ready.length > 0) this.#identityPending ??= this.#initIdentity();
      return;
    }
    const metadata = this.#client.metadata;
    const stale = new Set<string>();
    while (this.#ready.length > 0) {
      let target: BrokerTarget | undefined;
      const batches: Batch[] = [];
      let bytes = 0;
      for (let i = 0; i < this.#ready.length; ) {
        const b = this.#ready[i]!;
        if (!this.#maySend(b)) {
          i++; // it and its partition's later batches wait; other partitions' go on
          continue;
        }
        if (!metadata.fresh(b.topic)) {
          stale.add(b.topic);
          i++;
          continue;
        }
        const to = metadata.route(b.topic, b.partition).target;
        if (target === undefined ? (this.#inFlightAt.get(to) ?? 0) >= this.#maxInFlight : to !== target) {
          i++; // another broker's, or one with no request slot free
          continue;
        }
        if (batches.length > 0 && bytes + b.builder.sizeBytes > MAX_REQUEST_BYTES) break;
        target = to;
        this.#ready.splice(i, 1);
        bytes += b.builder.sizeBytes;
        batches.push(b);
        // Sequences are taken here, in the order batches leave #ready: the order the broker must see them in.
        b.encoded = this.#encode(b);
        if (b.keyless) this.#sticky.batchSent(b.topic, b.partition, b.partitions);
      }
      if (target === undefined) break;
      const to = target;
      this.#inFlightAt.set(to, (this.#inFlightAt.get(to) ?? 0) + 1);
      const request = this.#produce(batches, to).finally(() => {
        this.#inFlight.delete(request);
        const left = this.#inFlightAt.get(to)! - 1;
        if (left > 0) this.#inFlightAt.set(to, left);
        else this.#inFlightAt.delete(to);
        this.#drain();
      });
      this.#inFlight.add(request);
    }
    if (stale.size > 0) this.#refreshRoutes([...stale]);
  }

  /**
   * Asks for the metadata of topics whose batches wait for it, then sends them. When no broker
   * answers, that counts as an attempt of theirs: after `retries` of them in a row they fail (they
   * never left, so no sequence number was spent on them).
   */
  #refreshRoutes(topics: string[]): void {
    if (this.#routeRefresh) return;
    const refresh = this.#client.metadata
      .refresh(topics, true)
      .then(
        () => {
          this.#routeFailures = 0;
        },
        async (err: unknown) => {
          const failures = ++this.#routeFailures;
          if (failures <= this.#client.retries && !this.#client.closed) return sleep(this.#client.backoffMs(failures - 1));
          this.#routeFailures = 0;
          const e = err instanceof SluiceError ? err : new SluiceError('UNKNOWN_SERVER_ERROR', String(err));
          const waiting = this.#ready.filter((b) => topics.includes(b.topic) && !this.#client.metadata.fresh(b.topic));
          for (const b of waiting) {
            this.#ready.splice(this.#ready.indexOf(b), 1);
            failAll(b, e);
          }
        },
      )
      .finally(() => {
        this.#routeRefresh = undefined;
        this.#drain();
      });
    this.#routeRefresh = refresh;
  }

  /**
   * The broker remembers an idempotent producer's last IDEMPOTENT_BATCHES_REMEMBERED batches per partition, so
   * no more than that may be unacknowledged: a retry of an older one would not be recognised.
   */
  #maySend(b: Batch): boolean {
    if (this.#held.size > 0 && this.#held.has(`${b.topic}\0${b.partition}`)) return false; // see #hold
    return !this.#identity || (this.#windows.get(`${b.topic}\0${b.partition}`)?.length ?? 0) < IDEMPOTENT_BATCHES_REMEMBERED;
  }

  /** The batch's bytes; an idempotent producer's carry its id, epoch and the partition's next sequence. */
  #encode(b: Batch): Buffer {
    if (!this.#identity) return b.builder.build();
    const key = `${b.topic}\0${b.partition}`;
    const baseSequence = this.#sequences.get(key) ?? 0;
    this.#sequences.set(key, (baseSequence + b.calls.length) % SEQUENCE_SPAN);
    let window = this.#windows.get(key);
    if (!window) this.#windows.set(key, (window = []));
    window.push(b);
    return b.builder.build({ producerId: this.#identity.producerId, producerEpoch: this.#identity.producerEpoch, baseSequence });
  }

  /** Asks the broker for a producer id (with the client's retries), then sends what waited; a failure fails what waited. */
  async #initIdentity(): Promise<void> {
    try {
      this.#identity = await this.#client.withRetries(() => this.#client.call<InitProducerIdResponse>(ApiKey.InitProducerId, {}));
    } catch (err) {
      const e = err instanceof SluiceError ? err : new SluiceError('UNKNOWN_SERVER_ERROR', String(err));
      for (const b of this.#ready.splice(0)) failAll(b, e);
    } finally {
      this.#identityPending = undefined;
    }
    this.#drain();
  }

  /**
   * A batch is acknowledged or has failed for good. The window moves past it once every batch
   * before it has settled too: the broker counts the batches written after one, not the ones
   * still unacknowledged, so a retry of the oldest must stay among the last ones it remembers.
   */
  #settled(b: Batch): void {
    if (!this.#identity) return;
    b.settled = true;
    const window = this.#windows.get(`${b.topic}\0${b.partition}`);
    while (window?.[0]?.settled) window.shift();
  }

  /** OUT_OF_ORDER_SEQUENCE_NUMBER for a batch behind an unacknowledged one: it overtook that one's retry. */
  #overtook(b: Batch): boolean {
    return this.#windows.get(`${b.topic}\0${b.partition}`)?.[0] !== b;
  }

  async #produce(batches: Batch[], target: BrokerTarget): Promise<void> {
    const encoded = batches.map((b) => b.encoded!);
    const body = { acks: this.#acks, partitions: batches.map((b, i) => ({ topic: b.topic, partition: b.partition, bytes: encoded[i]!.length })) };
    let retry: Batch[] = [];
    /** Batches that overtook an earlier one's retry: sent again, but it is not their failure. */
    const behind: Batch[] = [];
    let retryError: SluiceError | undefined;
    /** Retried because their partition's leader may have moved (see #hold). */
    let moved: Batch[] = [];
    const settleBatch = (b: Batch, offsetOf: (k: number) => bigint | null) => {
      this.#settled(b);
      settleAll(b, offsetOf);
    };
    const failBatch = (b: Batch, err: Error) => {
      this.#settled(b);
      failAll(b, err);
      // A batch that failed for good leaves a gap in its partition's sequences (the broker did not
      // write it, or may not have): the next epoch starts afresh, as Kafka's clients do (KIP-360).
      if (this.#identity) this.#epochBumpDue = true;
    };
    try {
      if (this.#acks === 0) {
        await this.#client.sendAt(target, ApiKey.Produce, body, encoded);
        for (const b of batches) settleBatch(b, () => null);
        return;
      }
      const response = await this.#client.callAt<ProduceResponse>(target, ApiKey.Produce, body, encoded);
      response.partitions.forEach((r, i) => {
        const b = batches[i]!;
        if (!r.error) {
          const base = r.baseOffset!;
          settleBatch(b, (k) => base + BigInt(k));
          return;
        }
        const err = new SluiceError(r.error.code as 'UNKNOWN_SERVER_ERROR', r.error.message);
        if (isLeadershipError(err.code)) moved.push(b);
        if (err.code === 'OUT_OF_ORDER_SEQUENCE_NUMBER' && this.#overtook(b)) {
          behind.push(b);
          retryError = err;
        } else if (err.retriable) {
          retry.push(b);
          retryError = err;
        } else failBatch(b, err);
      });
    } catch (err) {
      // The request as a whole failed (connection lost, or an error response): every batch.
      const e = err instanceof SluiceError ? err : new SluiceError('UNKNOWN_SERVER_ERROR', String(err));
      if (!e.retriable) {
        for (const b of batches) failBatch(b, e);
        return;
      }
      retry = batches;
      retryError = e;
      // A broker of the cluster that cannot be reached may be gone, its partitions led elsewhere
      // now. (The bootstrap connection reaches a lone broker, which leads everything wherever it is.)
      if (target !== 'bootstrap') moved = batches;
    }
    for (const b of behind) b.attempts -= 1; // #retry counts an attempt; waiting for an earlier batch is not one
    for (const b of moved) this.#hold(b, 1);
    try {
      await this.#retry([...retry, ...behind], retryError, failBatch);
    } finally {
      for (const b of moved) this.#hold(b, -1);
    }
  }

  /**
   * A batch retried because its partition's leader may have moved holds the partition's later
   * batches back until it is answered (acknowledged, or failed for good): until then they would go
   * to the old leader and fail as well, or reach the new one ahead of it and be refused as out of
   * order. The topic's metadata is asked for again meanwhile (it is stale).
   */
  #hold(b: Batch, delta: 1 | -1): void {
    const key = `${b.topic}\0${b.partition}`;
    const held = (this.#held.get(key) ?? 0) + delta;
    if (held > 0) this.#held.set(key, held);
    else this.#held.delete(key);
    if (delta > 0) this.#client.forgetTopic(b.topic);
  }

  async #retry(batches: Batch[], err: SluiceError | undefined, failBatch: (b: Batch, err: Error) => void): Promise<void> {
    if (batches.length === 0) return;
    const attempt = Math.max(0, ...batches.map((b) => b.attempts));
    const giveUp = batches.filter((b) => b.attempts >= this.#client.retries);
    for (const b of giveUp) failBatch(b, err!);
    const again = batches.filter((b) => b.attempts < this.#client.retries);
    if (again.length === 0) return;
    await sleep(this.#client.backoffMs(attempt));
    for (const b of again) {
      b.attempts += 1;
      this.#client.forgetTopic(b.topic);
    }
    // To each partition's leader as the cluster names it now (the old one, if no broker answers).
    await this.#client.metadata.refresh([...new Set(again.map((b) => b.topic))], true).catch(() => undefined);
    const byTarget = new Map<BrokerTarget, Batch[]>();
    for (const b of again) {
      const to = this.#client.metadata.route(b.topic, b.partition).target;
      const list = byTarget.get(to);
      if (list) list.push(b);
      else byTarget.set(to, [b]);
    }
    await Promise.all([...byTarget].map(([to, list]) => this.#produce(list, to)));
  }
}

function settleAll(b: Batch, offsetOf: (k: number) => bigint | null): void {
  for (let k = 0; k < b.calls.length; k++) settle(b.calls[k]!, b.slots[k]!, { topic: b.topic, partition: b.partition, offset: offsetOf(k) });
}

function failAll(b: Batch, err: Error): void {
  for (const call of b.calls) fail(call, err);
}
