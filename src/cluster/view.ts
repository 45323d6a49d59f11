// One broker's copy of the cluster's records (records.ts): read whole once, then kept current by a
// watch from the revision that read saw, so no change between the two is missed and each is seen
// once, in the store's order. Listeners hear after every batch of changes; they read the view, not
// the events. A record that does not decode is logged and left out (it names its key).
//
// Each record keeps its modRevision: a compare-and-swap names the version it read.

import type { Logger } from 'pino';
import type { EtcdStore, StoreWatch, StoredValue, WatchEvent } from './etcd-store.js';
import { decodeBroker, decodeController, decodePartition, decodeTopic, KEYS, type BrokerRecord, type ControllerRecord, type PartitionRecord, type TopicRecord } from './records.js';

export interface Versioned<T> {
  value: T;
  modRevision: bigint;
}

export type ViewListener = () => void;

export class ClusterView {
  readonly brokers = new Map<number, Versioned<BrokerRecord>>();
  readonly topics = new Map<string, Versioned<TopicRecord>>();
  /** Keyed `${topic}/${index}`. */
  readonly partitions = new Map<string, Versioned<PartitionRecord>>();
  controller: Versioned<ControllerRecord> | undefined;
  readonly #store: EtcdStore;
  readonly #logger: Logger;
  readonly #listeners = new Set<ViewListener>();
  #watch: StoreWatch | undefined;
  #notifyScheduled = false;

  private constructor(store: EtcdStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Reads every record, then watches from just after that read. */
  static async open(store: EtcdStore, logger: Logger): Promise<ClusterView> {
    const view = new ClusterView(store, logger);
    const { values, revision } = await store.list('');
    for (const kv of values) view.#apply({ type: 'put', kv });
    view.#watch = await store.watch('', revision + 1n, (e) => {
      view.#apply(e);
      view.#scheduleNotify();
    });
    return view;
  }

  onChange(listener: ViewListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  partition(topic: string, index: number): Versioned<PartitionRecord> | undefined {
    return this.partitions.get(`${topic}/${index}`);
  }

  /** The topic's partition records in index order (undefined where the controller has not written one yet). */
  topicPartitions(topic: string): Array<Versioned<PartitionRecord> | undefined> {
    const t = this.topics.get(topic);
    if (!t) return [];
    return Array.from({ length: t.value.partitions }, (_, i) => this.partition(topic, i));
  }

  aliveIds(): Set<number> {
    return new Set(this.brokers.keys());
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#watch?.close();
  }

  #apply(e: WatchEvent): void {
    const key = e.type === 'put' ? e.kv.key : e.key;
    try {
      if (e.type === 'put') this.#put(e.kv);
      else this.#delete(key);
    } catch (err) {
      this.#logger.error({ key, err: (err as Error).message }, 'ignoring a cluster record that does not decode');
    }
  }

  #put(kv: StoredValue): void {
    const { key, value, modRevision } = kv;
    if (key.startsWith(KEYS.brokers)) {
      const record = decodeBroker(key, value);
      this.brokers.set(record.nodeId, { value: record, modRevision });
    } else if (key === KEYS.controller) {
      this.controller = { value: decodeController(key, value), modRevision };
    } else if (key.startsWith(KEYS.topics)) {
      const record = decodeTopic(key, value);
      this.topics.set(record.name, { value: record, modRevision });
    } else if (key.startsWith(KEYS.partitions)) {
      this.partitions.set(key.slice(KEYS.partitions.length), { value: decodePartition(key, value), modRevision });
    }
  }

  #delete(key: string): void {
    if (key.startsWith(KEYS.brokers)) this.brokers.delete(Number(key.slice(KEYS.brokers.length)));
    else if (key === KEYS.controller) this.controller = undefined;
    else if (key.startsWith(KEYS.topics)) this.topics.delete(key.slice(KEYS.topics.length));
    else if (key.startsWith(KEYS.partitions)) this.partitions.delete(key.slice(KEYS.partitions.length));
  }

  /** Events of one etcd transaction arrive together: listeners run once after them. */
  #scheduleNotify(): void {
    if (this.#notifyScheduled) return;
    this.#notifyScheduled = true;
    queueMicrotask(() => {
      this.#notifyScheduled = false;
      for (const listener of [...this.#listeners]) listener();
    });
  }
}
