// Committed offsets and group metadata, kept in Sluice's own log: one partition of the internal
// topic `__consumer_offsets` (offsets-topic.ts). Each commit appends one record batch and is
// acknowledged only once it is durable: alone, once fsynced (the topic has one local partition);
// in a cluster, once the partition's in-sync replicas hold it (the writer given to `load` is the
// log service's acks=all append, which only the partition's leader may make). The state is rebuilt
// by reading the whole partition: at start-up alone, when this broker becomes its leader in a cluster.
//
// Records (key and value MessagePack; a nil value is a tombstone):
//   key [1, "o", group, topic, partition]  value { offset: int64, metadata: string | nil, commitTimestampMs }
//   key [1, "g", group]                     value { protocolType, generationId, protocol: string | nil }
// The log is not compacted: it grows by one small record per committed partition (retention off).

import { Packr } from 'msgpackr';
import { decodeRecordBatches, encodeRecordBatch, type RecordInput } from '../protocol/record-batch.js';
import type { Partition } from '../log/partition.js';
import type { TopicRegistry } from '../log/topic-registry.js';
import { SluiceError, type ErrorCode } from '../errors.js';
import type { TopicPartition } from '../vocabulary.js';
import { OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIG } from './offsets-topic.js';

/**
 * The on-disk encoding of `__consumer_offsets` keys and values, owned here: MessagePack with these
 * options, whatever the wire codec's may become (a wire option must not change a stored format).
 */
const packr = new Packr({ useRecords: false, variableMapSize: true, int64AsType: 'bigint' });

const RECORD_VERSION = 1;
const READ_BYTES = 4 * 1024 * 1024;

export interface CommittedOffset {
  offset: bigint;
  metadata: string | null;
  commitTimestampMs: number;
}

export interface StoredGroup {
  protocolType: string;
  generationId: number;
  protocol: string | null;
  /**
   * When the group entered the state it was stored in (Stable, or Empty once its last member
   * went): Kafka's current_state_timestamp, from which an empty group's offsets expire (KIP-211).
   * Absent in records written before it was kept.
   */
  stateTimestampMs?: number;
}

export interface OffsetCommitInput {
  topic: string;
  partition: number;
  offset: bigint;
  metadata: string | null;
}

const offsetKey = (group: string, topic: string, partition: number) => `${group}\u0000${topic}\u0000${partition}`;

/** Appends one record batch to the store's partition and resolves once it is durable (throws a SluiceError otherwise). */
export type OffsetWriter = (batch: Buffer) => Promise<void>;

/**
 * What a failed write answers a group's client, as Kafka's coordinator maps its log's errors: a
 * broker that lost the partition's leadership is not the coordinator any more (the client finds
 * the new one), one whose replicas did not keep up is not available now (the client retries).
 */
const WRITE_ERRORS: Partial<Record<ErrorCode, ErrorCode>> = {
  LOG_CLOSED: 'COORDINATOR_NOT_AVAILABLE',
  NOT_LEADER_OR_FOLLOWER: 'NOT_COORDINATOR',
  UNKNOWN_TOPIC_OR_PARTITION: 'COORDINATOR_NOT_AVAILABLE',
  NOT_ENOUGH_REPLICAS: 'COORDINATOR_NOT_AVAILABLE',
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'COORDINATOR_NOT_AVAILABLE',
  REQUEST_TIMED_OUT: 'COORDINATOR_NOT_AVAILABLE',
};

export class OffsetStore {
  readonly #partition: Partition;
  readonly #writer: OffsetWriter;
  /** group → "group\0topic\0partition" → offset */
  readonly #offsets = new Map<string, Map<string, TopicPartition & CommittedOffset>>();
  readonly #groups = new Map<string, StoredGroup>();

  private constructor(partition: Partition, writer: OffsetWriter) {
    this.#partition = partition;
    this.#writer = writer;
  }

  /** A single broker's store: opens (creating if needed) the one-partition internal topic and replays it; commits are fsynced. */
  static async open(topics: TopicRegistry): Promise<OffsetStore> {
    if (!topics.get(OFFSETS_TOPIC)) await topics.create(OFFSETS_TOPIC, 1, OFFSETS_TOPIC_CONFIG);
    const partition = topics.partition(OFFSETS_TOPIC, 0);
    return OffsetStore.load(partition, async (batch) => {
      partition.append(batch);
      await partition.log.flush();
    });
  }

  /**
   * The store of one partition, replayed from its log start to its log end: a new leader's whole
   * log, since what it holds past its own high watermark includes commits the previous leader
   * acknowledged (every in-sync replica held them), and it keeps all of it while it leads.
   */
  static load(partition: Partition, writer: OffsetWriter): OffsetStore {
    const store = new OffsetStore(partition, writer);
    store.#replay();
    return store;
  }

  /** Groups that have stored state (commits or a generation). */
  groupIds(): string[] {
    return [...new Set([...this.#offsets.keys(), ...this.#groups.keys()])];
  }

  group(groupId: string): StoredGroup | undefined {
    return this.#groups.get(groupId);
  }

  offsets(groupId: string): Array<TopicPartition & CommittedOffset> {
    return [...(this.#offsets.get(groupId)?.values() ?? [])];
  }

  offset(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.#offsets.get(groupId)?.get(offsetKey(groupId, topic, partition));
  }

  /** Appends and fsyncs the commit, then makes it visible. Throws the storage error on failure. */
  async commit(groupId: string, offsets: readonly OffsetCommitInput[], nowMs: number): Promise<void> {
    if (offsets.length === 0) return;
    const records: RecordInput[] = offsets.map((o) => ({
      key: packr.pack([RECORD_VERSION, 'o', groupId, o.topic, o.partition]),
      value: packr.pack({ offset: o.offset, metadata: o.metadata, commitTimestampMs: nowMs }),
      timestampMs: nowMs,
    }));
    await this.#write(records);
    for (const o of offsets) this.#applyOffset(groupId, o.topic, o.partition, { offset: o.offset, metadata: o.metadata, commitTimestampMs: nowMs });
  }

  /** Forgets `groupId`'s committed offsets of `partitions` (all of them, and the group itself, when null), with tombstones. */
  async delete(groupId: string, partitions: ReadonlyArray<TopicPartition> | null, nowMs: number): Promise<void> {
    const offsets = partitions ?? this.offsets(groupId);
    const records: RecordInput[] = offsets.map((o) => ({ key: packr.pack([RECORD_VERSION, 'o', groupId, o.topic, o.partition]), value: null, timestampMs: nowMs }));
    if (partitions === null && this.#groups.has(groupId)) records.push({ key: packr.pack([RECORD_VERSION, 'g', groupId]), value: null, timestampMs: nowMs });
    if (records.length === 0) return;
    await this.#write(records);
    for (const o of offsets) this.#offsets.get(groupId)?.delete(offsetKey(groupId, o.topic, o.partition));
    if (this.#offsets.get(groupId)?.size === 0) this.#offsets.delete(groupId);
    if (partitions === null) this.#groups.delete(groupId);
  }

  async storeGroup(groupId: string, group: StoredGroup, nowMs: number): Promise<void> {
    await this.#write([{ key: packr.pack([RECORD_VERSION, 'g', groupId]), value: packr.pack(group), timestampMs: nowMs }]);
    this.#groups.set(groupId, group);
  }

  async #write(records: RecordInput[]): Promise<void> {
    try {
      await this.#writer(encodeRecordBatch(records));
    } catch (err) {
      if (err instanceof SluiceError) throw new SluiceError(WRITE_ERRORS[err.code] ?? err.code, `writing ${OFFSETS_TOPIC}-${this.#partition.index}: ${err.message}`);
      throw err;
    }
  }

  #replay(): void {
    const log = this.#partition.log;
    let offset = log.logStartOffset;
    const end = log.highWatermark;
    while (offset < end) {
      const batches = decodeRecordBatches(log.read(offset, READ_BYTES).data);
      if (batches.length === 0) break;
      for (const batch of batches) for (const record of batch.records) this.#apply(record.key, record.value);
      const last = batches.at(-1)!;
      offset = last.baseOffset + BigInt(last.lastOffsetDelta) + 1n;
    }
  }

  #apply(keyBytes: Buffer | null, valueBytes: Buffer | null): void {
    if (!keyBytes) return;
    const key = packr.unpack(keyBytes) as unknown[];
    if (!Array.isArray(key) || key[0] !== RECORD_VERSION) return;
    if (key[1] === 'o') {
      const [, , group, topic, partition] = key as [number, string, string, string, number];
      if (valueBytes === null) {
        this.#offsets.get(group)?.delete(offsetKey(group, topic, partition));
        return;
      }
      const v = packr.unpack(valueBytes) as { offset: bigint | number; metadata: string | null; commitTimestampMs: number };
      this.#applyOffset(group, topic, partition, { offset: BigInt(v.offset), metadata: v.metadata ?? null, commitTimestampMs: v.commitTimestampMs });
    } else if (key[1] === 'g') {
      const group = key[2] as string;
      if (valueBytes === null) this.#groups.delete(group);
      else this.#groups.set(group, packr.unpack(valueBytes) as StoredGroup);
    }
  }

  #applyOffset(group: string, topic: string, partition: number, committed: CommittedOffset): void {
    let offsets = this.#offsets.get(group);
    if (!offsets) this.#offsets.set(group, (offsets = new Map()));
    offsets.set(offsetKey(group, topic, partition), { topic, partition, ...committed });
  }
}
