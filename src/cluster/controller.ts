// The cluster's controller: one broker at a time, elected by creating the `controller` key under
// its own lease (whoever creates it first holds it until its lease ends; the others wait for the
// key to go and try again). While it holds the key it keeps every partition record true to the
// live brokers (assignment.ts): it writes the first record of each new partition (replicas spread
// over the live brokers and racks), moves leadership off dead brokers to a live in-sync replica
// with a bumped leader epoch, drops dead followers from the ISR, and removes the records of
// deleted topics. Every write is a compare-and-swap on the revision it read, so a deposed
// controller, or a leader changing its ISR at the same time, can only make its own write fail.
//
// Passes run one at a time (serial-pass.ts), after any change the view reports; a failed pass (etcd
// unavailable) or lost a race (the view is about to change) runs again after `retryMs`.

import type { Logger } from 'pino';
import type { EtcdStore, StoreLease } from './etcd-store.js';
import { assignReplicas, reconcilePartition } from './assignment.js';
import { encodeRecord, KEYS, type PartitionRecord } from './records.js';
import { SerialPass } from './serial-pass.js';
import type { ClusterView } from './view.js';

export interface ControllerOptions {
  nodeId: number;
  store: EtcdStore;
  view: ClusterView;
  lease: StoreLease;
  logger: Logger;
  retryMs?: number;
}

export class Controller {
  readonly #o: ControllerOptions;
  #active = false;
  readonly #passes: SerialPass;
  readonly #unsubscribe: () => void;

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.#passes = new SerialPass(() => this.#pass(), {
      onError: (err) => options.logger.warn({ err: (err as Error).message }, 'controller pass failed; retrying'),
      retryAfterFailureMs: options.retryMs ?? 200,
    });
    this.#unsubscribe = options.view.onChange(() => this.#passes.kick());
  }

  /** The broker registered again under a new lease: campaign under it. */
  setLease(lease: StoreLease): void {
    this.#o.lease = lease;
    this.#passes.kick();
  }

  get active(): boolean {
    return this.#active;
  }

  start(): void {
    this.#passes.kick();
  }

  stop(): void {
    this.#active = false;
    this.#unsubscribe();
    void this.#passes.stop();
  }

  async #pass(): Promise<void> {
    const { view, store, nodeId, lease, logger } = this.#o;
    logger.debug({ controller: view.controller?.value.nodeId ?? null }, 'controller pass');
    if (!view.controller) {
      const won = await store.create(KEYS.controller, encodeRecord({ nodeId }), lease);
      if (won) logger.info({ nodeId }, 'this broker is the controller');
      else logger.debug({ nodeId }, 'another broker is the controller');
      // The view hears of the key through its watch; the pass that follows acts as controller.
      return;
    }
    this.#active = view.controller.value.nodeId === nodeId;
    if (!this.#active) return;
    const alive = view.aliveIds();
    const brokers = [...view.brokers.values()].map((b) => ({ nodeId: b.value.nodeId, rack: b.value.rack }));
    let lost = false;

    // New topics and added partitions: their first records.
    for (const [name, t] of view.topics) {
      const missing = view.topicPartitions(name).flatMap((p, i) => (p ? [] : [i]));
      if (missing.length === 0) continue;
      const rf = t.value.replicationFactor;
      if (brokers.length < rf) {
        logger.warn({ topic: name, replicationFactor: rf, brokers: brokers.length }, 'not enough live brokers to place the topic; waiting');
        continue;
      }
      const start = stableStart(name, brokers.length);
      for (const index of missing) {
        const [replicas] = assignReplicas(brokers, index, 1, rf, start);
        const record: PartitionRecord = { leader: replicas![0]!, leaderEpoch: 0, replicas: replicas!, isr: replicas!, partitionEpoch: 0 };
        if (!(await store.compareAndPut(KEYS.partition(name, index), encodeRecord(record), 0n))) lost = true;
        else logger.info({ topic: name, partition: index, replicas }, 'partition placed');
      }
    }

    // Records of deleted topics go.
    for (const [key, p] of view.partitions) {
      const topic = key.slice(0, key.lastIndexOf('/'));
      const index = Number(key.slice(key.lastIndexOf('/') + 1));
      if (!view.topics.has(topic) || index >= view.topics.get(topic)!.value.partitions) {
        if (!(await store.compareAndDelete(KEYS.partitions + key, p.modRevision))) lost = true;
      }
    }

    // Leaders and ISRs against the live brokers.
    for (const [key, p] of view.partitions) {
      const next = reconcilePartition(p.value, alive);
      if (!next) continue;
      if (await store.compareAndPut(KEYS.partitions + key, encodeRecord(next), p.modRevision)) {
        logger.info({ partition: key, leader: next.leader, leaderEpoch: next.leaderEpoch, isr: next.isr, was: { leader: p.value.leader, isr: p.value.isr } }, 'partition leadership changed');
      } else lost = true;
    }
    // A lost race means the view is about to change: the next pass sees the new records.
    if (lost) this.#passes.retryLater();
  }
}

/** Where a topic's round robin starts: spread by name, so that many small topics do not all lead on the first broker. */
function stableStart(name: string, brokers: number): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
  return Math.abs(h) % brokers;
}
