// The topics of one broker and their partitions, on disk and in memory.
//
// On disk: `<data>/<topic>-<partition>/` per partition (see storage) and `<data>/.topics/<topic>.json`
// per topic: `{ version: 1, name, topicId, partitions, config, createdAtMs, state }`. The topic id is
// a random UUID made when the topic is created and kept for its life (a topic deleted and created
// again under the same name gets a new one, so a client holding the old id never reads the new
// topic); a file written before ids existed gets one at the next start, written back at once. Topic files are
// replaced atomically (write, fsync, rename, fsync the directory), so a crash leaves the old or the
// new file, never half of one.
//
// Create writes the topic file first, then opens the partitions (a partition directory that is
// missing at start-up is created empty). Delete marks the file `state: "deleting"`, closes the
// partitions, renames their directories to `<dir>.<id>-delete`, removes the file, then removes the
// renamed directories in the background; start-up finishes any of these steps a crash interrupted.
// A partition directory without a topic file (data from before topic files existed) is adopted.

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { asStorageError, SluiceError } from '../errors.js';
import { native, nativeCall, type LogOptions } from '../native.js';
import { PartitionLog } from '../storage/partition-log.js';
import { Partition } from './partition.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, DEFAULT_SNAPSHOT_INTERVAL_BYTES } from './partition-producers.js';
import { collisionKey, validateTopicName } from './topic-name.js';

/** Settings a topic may override; the broker's defaults fill in the rest. */
export interface TopicConfig {
  retentionMs?: number;
  retentionBytes?: number;
  segmentBytes?: number;
  segmentMs?: number;
  /** Largest record batch accepted (Kafka's max.message.bytes). */
  maxBatchBytes?: number;
  /** Only "delete" (retention by size and age); compaction is not supported. */
  cleanupPolicy?: 'delete';
}

/** Broker-wide defaults for partitions of new and existing topics. */
export interface TopicDefaults extends LogOptions {
  partitions: number;
  /** A producer that has not written to a partition for this long is forgotten there (Kafka's producer.id.expiration.ms). */
  producerIdExpirationMs?: number;
  /** Appended bytes between two snapshots of a partition's producer state (bounds the replay after a crash). */
  producerSnapshotIntervalBytes?: number;
}

export interface Topic {
  readonly name: string;
  /** The topic's UUID (RFC 4122 text), stable across restarts. */
  readonly id: string;
  /** The topic's own settings (the broker's defaults fill in the rest: see effectiveConfig). */
  readonly config: TopicConfig;
  readonly createdAtMs: number;
  /** By index; in a cluster only the partitions this broker holds a replica of are open (the others are undefined). */
  readonly partitions: ReadonlyArray<Partition | undefined>;
}

/** What a cluster says a topic is (its id, size and settings), for a broker to hold replicas of it. */
export interface TopicSpec {
  name: string;
  id: string;
  partitions: number;
  config: TopicConfig;
  createdAtMs: number;
}

interface TopicFile {
  version: 1;
  name: string;
  /** Absent only in files written before topic ids existed. */
  topicId?: string;
  partitions: number;
  config: TopicConfig;
  createdAtMs: number;
  state: 'live' | 'deleting';
}

export const MAX_PARTITIONS = 10_000;
const TOPICS_DIR = '.topics';
const PARTITION_DIR = /^(.+)-(\d+)$/;
const DELETED_DIR = /-delete$/;

export class TopicRegistry {
  readonly dataDir: string;
  readonly defaults: TopicDefaults;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #topics = new Map<string, Topic>();
  /** Topic id → name: Fetch v13+ names topics by id on every request. */
  readonly #namesById = new Map<string, string>();
  /** Names being created or deleted: a second create or delete of them fails fast. */
  readonly #busy = new Set<string>();
  readonly #removals = new Set<Promise<void>>();
  /** Topics the broker keeps for itself: clients may read them, not write or delete them. */
  readonly #internal = new Set<string>();
  /** In a cluster a partition is opened only where the broker holds a replica (a directory on disk, or `host`). */
  readonly #hostedOnly: boolean;

  private constructor(dataDir: string, defaults: TopicDefaults, clock: Clock, logger: Logger, hostedOnly: boolean) {
    this.dataDir = dataDir;
    this.defaults = defaults;
    this.#clock = clock;
    this.#logger = logger;
    this.#hostedOnly = hostedOnly;
  }

  /**
   * Loads every topic under `dataDir`, recovering partitions that were not closed cleanly. With
   * `hostedOnly` (a cluster member), only partitions with a directory open: the others live on
   * other brokers.
   */
  static async open(dataDir: string, defaults: TopicDefaults, logger: Logger, clock: Clock = systemClock, options: { hostedOnly?: boolean } = {}): Promise<TopicRegistry> {
    const registry = new TopicRegistry(dataDir, defaults, clock, logger, options.hostedOnly ?? false);
    await registry.#load();
    return registry;
  }

  /**
   * A cluster's topic, known here with the id and settings the cluster gave it (its file written,
   * no partition opened). A local topic of the same name with another id is an older topic of
   * that name that was deleted while this broker was away: it goes first.
   */
  async adopt(spec: TopicSpec): Promise<Topic> {
    const known = this.#topics.get(spec.name);
    if (known && known.id === spec.id) {
      if (known.partitions.length >= spec.partitions && JSON.stringify(known.config) === JSON.stringify(spec.config)) return known;
      const partitions = [...known.partitions, ...Array<undefined>(Math.max(0, spec.partitions - known.partitions.length))];
      const options = this.#logOptions(spec.config);
      for (const p of partitions) p?.log.reconfigure(options);
      const grown: Topic = { ...known, config: spec.config, partitions };
      await this.#writeTopicFile(fileOf(grown, {}));
      this.#topics.set(spec.name, grown);
      return grown;
    }
    if (known) await this.#forceDelete(known);
    const file: TopicFile = { version: 1, name: spec.name, topicId: spec.id, partitions: spec.partitions, config: spec.config, createdAtMs: spec.createdAtMs, state: 'live' };
    await this.#writeTopicFile(file);
    const topic: Topic = { name: spec.name, id: spec.id, config: spec.config, createdAtMs: spec.createdAtMs, partitions: Array<undefined>(spec.partitions) };
    this.#topics.set(spec.name, topic);
    this.#namesById.set(spec.id, spec.name);
    return topic;
  }

  /** Opens partition `index` of a known topic here (a replica the cluster placed on this broker); the open one when it is open. */
  async host(name: string, index: number): Promise<Partition> {
    const topic = this.#topics.get(name);
    if (!topic || index >= topic.partitions.length) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${name}-${index} does not exist`);
    const open = topic.partitions[index];
    if (open) return open;
    const partition = await this.#openPartition(name, index, this.#logOptions(topic.config));
    const current = this.#topics.get(name);
    if (current !== topic && current?.partitions[index]) {
      // Opened twice at once: keep the first.
      await partition.close();
      return current.partitions[index]!;
    }
    const partitions = [...(current ?? topic).partitions];
    partitions[index] = partition;
    this.#topics.set(name, { ...(current ?? topic), partitions });
    return partition;
  }

  /** Deletes a topic the cluster no longer has (internal or not). */
  async #forceDelete(topic: Topic): Promise<void> {
    this.#topics.delete(topic.name);
    this.#namesById.delete(topic.id);
    const file = fileOf(topic, { state: 'deleting' });
    await this.#writeTopicFile(file);
    await Promise.all(topic.partitions.map((p) => p?.close()));
    await this.#finishDelete(file);
    this.#logger.info({ topic: topic.name }, 'topic deleted');
  }

  get(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  markInternal(name: string): void {
    this.#internal.add(name);
  }

  isInternal(name: string): boolean {
    return this.#internal.has(name);
  }

  /** The live topic with this id (ids of deleted topics name nothing). */
  byId(id: string): Topic | undefined {
    const name = this.#namesById.get(id);
    return name === undefined ? undefined : this.#topics.get(name);
  }

  list(): Topic[] {
    return [...this.#topics.values()];
  }

  /** The partition, or UNKNOWN_TOPIC_OR_PARTITION. */
  partition(topic: string, index: number): Partition {
    const p = this.#topics.get(topic)?.partitions[index];
    if (!p) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${index} does not exist`);
    return p;
  }

  /**
   * Checks a create without doing it; throws the error the create would answer. Returns the
   * partition count (-1 takes the default).
   */
  validateCreate(name: string, partitions: number, config: TopicConfig): number {
    if (partitions === -1) partitions = this.defaults.partitions;
    validateTopicName(name);
    if (this.#topics.has(name) || this.#busy.has(name)) throw new SluiceError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    const key = collisionKey(name);
    const clash = [...this.#topics.keys()].find((t) => collisionKey(t) === key);
    if (clash) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `topic ${name} collides with ${clash} ("." and "_" are interchangeable in metric names)`);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new SluiceError('INVALID_PARTITIONS', `partitions must be in [1, ${MAX_PARTITIONS}], got ${partitions}`);
    }
    this.#validateConfig(config);
    return partitions;
  }

  /** Creates a topic; -1 partitions takes the default count. */
  async create(name: string, partitions: number, config: TopicConfig = {}): Promise<Topic> {
    const count = this.validateCreate(name, partitions, config);
    this.#busy.add(name);
    try {
      const file: TopicFile = { version: 1, name, topicId: newTopicId(), partitions: count, config, createdAtMs: this.#clock.nowMs(), state: 'live' };
      try {
        await this.#writeTopicFile(file);
        const topic = await this.#openTopic(file);
        this.#logger.info({ topic: name, partitions: count, config }, 'topic created');
        return topic;
      } catch (err) {
        // A create that failed (a full disk, most likely) leaves nothing that a restart would
        // bring back as a topic the client was told does not exist.
        await this.#finishDelete(file).catch((e: Error) => this.#logger.warn({ topic: name, err: e.message }, 'could not undo a failed topic create'));
        throw asStorageError(err, `create topic ${name}`);
      }
    } finally {
      this.#busy.delete(name);
    }
  }

  /**
   * Grows `name` to `count` partitions (Kafka's CreatePartitions): the new logs are opened first,
   * then the topic file names them, so a crash in between leaves the topic as it was (the empty new
   * directories are reused by the next attempt). Partitions are never removed.
   */
  async addPartitions(name: string, count: number, validateOnly = false): Promise<void> {
    const topic = this.#topics.get(name);
    if (!topic || this.#busy.has(name)) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    if (this.#internal.has(name)) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `${name} is internal to the broker`);
    const current = topic.partitions.length;
    if (!Number.isInteger(count) || count <= current || count > MAX_PARTITIONS) {
      throw new SluiceError('INVALID_PARTITIONS', `${name} has ${current} partitions; the new count must be in [${current + 1}, ${MAX_PARTITIONS}], got ${count}`);
    }
    if (validateOnly) return;
    this.#busy.add(name);
    try {
      const options = this.#logOptions(topic.config);
      const opened: Partition[] = [];
      try {
        for (let i = current; i < count; i++) {
          opened.push(await this.#openPartition(name, i, options));
        }
        await this.#writeTopicFile(fileOf(topic, { partitions: count }));
      } catch (err) {
        await Promise.all(opened.map((p) => p.close().catch(() => undefined)));
        throw asStorageError(err, `add partitions to ${name}`);
      }
      this.#topics.set(name, { ...topic, partitions: [...topic.partitions, ...opened] });
      this.#logger.info({ topic: name, partitions: count, added: count - current }, 'partitions added');
    } finally {
      this.#busy.delete(name);
    }
  }

  async delete(name: string): Promise<void> {
    const topic = this.#topics.get(name);
    if (!topic || this.#busy.has(name)) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    if (this.#internal.has(name)) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `${name} is internal to the broker and cannot be deleted`);
    this.#busy.add(name);
    try {
      await this.#forceDelete(topic);
    } finally {
      this.#busy.delete(name);
    }
  }

  /** Deletes old segments of every partition past its retention limits. */
  enforceRetention(): Array<{ topic: string; partition: number; deletedSegments: number; deletedBytes: number; logStartOffset: bigint }> {
    const report = [];
    for (const topic of this.#topics.values()) {
      for (const p of topic.partitions) {
        if (!p || p.closed) continue;
        const r = p.enforceRetention();
        if (r.deletedSegments.length > 0) {
          report.push({ topic: topic.name, partition: p.index, deletedSegments: r.deletedSegments.length, deletedBytes: r.deletedBytes, logStartOffset: r.logStartOffset });
        }
      }
    }
    return report;
  }

  /**
   * Closes every partition cleanly (recovery marker) and waits for background removals. The
   * broker calls it last, once every connection is drained: the slices the logs handed out let
   * their files go with them, so a stopped broker holds no file of its data directory.
   */
  async close(): Promise<void> {
    const partitions = [...this.#topics.values()].flatMap((t) => t.partitions);
    this.#topics.clear();
    await Promise.all(partitions.map((p) => p?.close({ releaseSlices: true })));
    await Promise.all(this.#removals);
  }

  /** The settings `topic` runs with: its overrides over the broker's defaults. */
  effectiveConfig(topic: Pick<Topic, 'config'>): Required<TopicConfig> {
    const o = this.#logOptions(topic.config);
    return { retentionMs: o.retentionMs ?? -1, retentionBytes: o.retentionBytes ?? -1, segmentBytes: o.segmentBytes ?? 0, segmentMs: o.segmentMs ?? -1, maxBatchBytes: o.maxBatchBytes ?? 0, cleanupPolicy: 'delete' };
  }

  /**
   * Replaces the topic's own settings with `config` (what is not in it falls back to the broker's
   * default), on disk first and then in every open partition log, which applies them from its next
   * append, roll or retention pass. Checked whole before anything changes; internal topics refused.
   */
  async alterConfig(name: string, config: TopicConfig, validateOnly = false): Promise<void> {
    const topic = this.#topics.get(name);
    if (!topic || this.#busy.has(name)) throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    if (this.#internal.has(name)) throw new SluiceError('INVALID_TOPIC_EXCEPTION', `${name} is internal to the broker: its settings are the broker's`);
    this.#validateConfig(config);
    if (validateOnly) return;
    this.#busy.add(name);
    try {
      await this.#writeTopicFile(fileOf(topic, { config })).catch((err: unknown) => {
        throw asStorageError(err, `alter the config of ${name}`);
      });
      const options = this.#logOptions(config);
      for (const p of topic.partitions) p?.log.reconfigure(options);
      this.#topics.set(name, { ...topic, config });
      this.#logger.info({ topic: name, config }, 'topic config altered');
    } finally {
      this.#busy.delete(name);
    }
  }

  #validateConfig(config: TopicConfig): void {
    if (config.cleanupPolicy !== undefined && config.cleanupPolicy !== 'delete') {
      throw new SluiceError('INVALID_CONFIG', `cleanupPolicy ${JSON.stringify(config.cleanupPolicy)} is not supported (only "delete")`);
    }
    nativeCall(() => native.validateLogOptions(this.#logOptions(config)));
  }

  #logOptions(config: TopicConfig): LogOptions {
    const { partitions: _, producerIdExpirationMs: _expiration, producerSnapshotIntervalBytes: _snapshots, ...defaults } = this.defaults;
    const { cleanupPolicy: __, ...overrides } = config;
    return { ...defaults, ...overrides };
  }

  async #load(): Promise<void> {
    const topicsDir = join(this.dataDir, TOPICS_DIR);
    await mkdir(topicsDir, { recursive: true });
    const entries = await readdir(this.dataDir);
    for (const e of entries.filter((e) => DELETED_DIR.test(e))) this.#removeInBackground(join(this.dataDir, e));

    const files: TopicFile[] = [];
    for (const f of (await readdir(topicsDir)).filter((f) => f.endsWith('.json'))) {
      files.push(await readTopicFile(join(topicsDir, f)));
    }
    for (const file of files.filter((f) => f.state === 'deleting')) await this.#finishDelete(file);
    const live = files.filter((f) => f.state === 'live');
    // Files from before topic ids: the id is made once and written back before anyone sees it.
    for (const file of live.filter((f) => f.topicId === undefined)) {
      file.topicId = newTopicId();
      await this.#writeTopicFile(file);
    }

    // Partition directories no topic file claims: adopt them.
    const claimed = new Set(live.map((f) => f.name));
    const orphans = new Map<string, number>();
    for (const e of entries) {
      const m = PARTITION_DIR.exec(e);
      if (!m || claimed.has(m[1]!) || !(await stat(join(this.dataDir, e))).isDirectory()) continue;
      try {
        validateTopicName(m[1]!);
      } catch {
        continue;
      }
      orphans.set(m[1]!, Math.max(orphans.get(m[1]!) ?? 0, Number(m[2]) + 1));
    }
    for (const [name, partitions] of orphans) {
      const file: TopicFile = { version: 1, name, topicId: newTopicId(), partitions, config: {}, createdAtMs: this.#clock.nowMs(), state: 'live' };
      this.#logger.warn({ topic: name, partitions }, 'adopting partition directories that no topic file claims');
      await this.#writeTopicFile(file);
      live.push(file);
    }
    await Promise.all(live.map((f) => this.#openTopic(f, true)));
  }

  /** Opens (or creates) partition `index`'s log, recovering it, with its producers' state beside it. */
  async #openPartition(topic: string, index: number, options: LogOptions): Promise<Partition> {
    const dirName = `${topic}-${index}`;
    const dir = join(this.dataDir, dirName);
    const log = await PartitionLog.open(dir, options, this.#clock);
    this.#logRecovery(dirName, log);
    const { producerIdExpirationMs = DEFAULT_PRODUCER_ID_EXPIRATION_MS, producerSnapshotIntervalBytes = DEFAULT_SNAPSHOT_INTERVAL_BYTES } = this.defaults;
    return new Partition(topic, index, log, { dir, expirationMs: producerIdExpirationMs, snapshotIntervalBytes: producerSnapshotIntervalBytes, clock: this.#clock });
  }

  /** Opens a topic's partitions; at load with `hostedOnly`, only those with a directory (a create opens them all). */
  async #openTopic(file: TopicFile, loading = false): Promise<Topic> {
    const options = this.#logOptions(file.config);
    const hosted = async (i: number) => !(loading && this.#hostedOnly) || (await stat(join(this.dataDir, `${file.name}-${i}`)).then((s) => s.isDirectory(), () => false));
    const opened = await Promise.allSettled(
      Array.from({ length: file.partitions }, async (_, i) => ((await hosted(i)) ? this.#openPartition(file.name, i, options) : undefined)),
    );
    const failed = opened.find((o) => o.status === 'rejected');
    const partitions = opened.map((o) => (o.status === 'fulfilled' ? o.value : undefined));
    if (failed) {
      // Release the partitions that did open before giving up on the topic.
      await Promise.all(partitions.map((p) => p?.close().catch(() => undefined)));
      throw failed.reason;
    }
    const topic: Topic = { name: file.name, id: file.topicId!, config: file.config, createdAtMs: file.createdAtMs, partitions };
    this.#topics.set(file.name, topic);
    this.#namesById.set(topic.id, file.name);
    return topic;
  }

  #logRecovery(partition: string, log: PartitionLog): void {
    const report = log.recoveryReport;
    this.#logger.info(
      {
        partition,
        highWatermark: String(log.highWatermark),
        logStartOffset: String(log.logStartOffset),
        cleanShutdown: report.cleanShutdown,
        scannedSegments: report.recovered.length,
      },
      'partition log open',
    );
    for (const r of report.recovered.filter((r) => r.truncatedBytes > 0)) {
      this.#logger.warn(
        { partition, segment: String(r.baseOffset), position: r.validBytes, droppedBytes: r.truncatedBytes, reason: r.reason },
        'truncated a damaged log tail',
      );
    }
  }

  async #finishDelete(file: TopicFile): Promise<void> {
    const id = randomBytes(4).toString('hex');
    for (let i = 0; i < file.partitions; i++) {
      const dir = join(this.dataDir, `${file.name}-${i}`);
      const renamed = `${dir}.${id}-delete`;
      try {
        await rename(dir, renamed);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      this.#removeInBackground(renamed);
    }
    await unlink(this.#topicFilePath(file.name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await fsyncDir(join(this.dataDir, TOPICS_DIR));
  }

  #removeInBackground(dir: string): void {
    const removal = rm(dir, { recursive: true, force: true }).catch((err: Error) => {
      this.#logger.warn({ dir, err: err.message }, 'could not remove a deleted partition directory');
    });
    this.#removals.add(removal);
    void removal.finally(() => this.#removals.delete(removal));
  }

  #topicFilePath(name: string): string {
    return join(this.dataDir, TOPICS_DIR, `${name}.json`);
  }

  async #writeTopicFile(file: TopicFile): Promise<void> {
    const path = this.#topicFilePath(file.name);
    const tmp = `${path}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await fsyncDir(join(this.dataDir, TOPICS_DIR));
  }
}

/** A live topic's file with some fields changed. */
function fileOf(topic: Topic, changes: Partial<Pick<TopicFile, 'partitions' | 'config' | 'state'>>): TopicFile {
  return { version: 1, name: topic.name, topicId: topic.id, partitions: topic.partitions.length, config: topic.config, createdAtMs: topic.createdAtMs, state: 'live', ...changes };
}

/**
 * A random (v4) UUID for a new topic. As Kafka's Uuid.randomUuid, never one whose URL-safe base64
 * form (how Kafka's tools print ids) starts with "-", which their command lines would take for an
 * option; the all-zero UUID, Kafka's "no id", cannot come out of randomUUID.
 */
function newTopicId(): string {
  for (;;) {
    const id = randomUUID();
    if (parseInt(id.slice(0, 2), 16) >> 2 !== 62) return id;
  }
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function readTopicFile(path: string): Promise<TopicFile> {
  const file = JSON.parse(await readFile(path, 'utf8')) as TopicFile;
  if (file.version !== 1 || typeof file.name !== 'string' || !Number.isInteger(file.partitions) || (file.topicId !== undefined && !UUID_TEXT.test(file.topicId))) {
    throw new SluiceError('INVALID_CONFIG', `${path} is not a Sluice topic file`);
  }
  validateTopicName(file.name);
  return file;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
