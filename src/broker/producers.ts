// The broker API for idempotent producers, for every door: a producer id and epoch for a producer
// that starts (InitProducerId), and the producers a partition knows (DescribeProducers).
// Transactions are not offered: an InitProducerId naming a transactional id is refused.

import { SluiceError } from '../errors.js';
import { asSluiceError } from '../log/log-errors.js';
import { permitted } from './authorize.js';
import type { BrokerSession } from './session.js';

export interface ProducerIdentity {
  producerId: bigint;
  producerEpoch: number;
}

/**
 * A new producer id with epoch 0. As Kafka does for producers without a transactional id, every
 * call gets a fresh id (a restarted producer is a new one; its old id expires where it wrote).
 * A principal may ask if it may write somewhere (Kafka 2.8+: Write on any topic).
 */
export function initProducerId(s: BrokerSession, transactionalId: string | null): ProducerIdentity {
  if (transactionalId !== null) throw new SluiceError('TRANSACTIONS_NOT_SUPPORTED', `transactional id ${JSON.stringify(transactionalId)}: transactions are not supported`);
  const principal = s.session.principal!;
  if (principal.write.length === 0 && !principal.admin) throw new SluiceError('CLUSTER_AUTHORIZATION_FAILED', `${principal.name} may write to no topic, so it may not be an idempotent producer`);
  return { producerId: s.log.producerIds.next(), producerEpoch: 0 };
}

export interface DescribeProducersInput {
  topic: string;
  partition: number;
}

/** A producer as a partition knows it. */
export interface ProducerSummary {
  producerId: bigint;
  producerEpoch: number;
  /** The last sequence number it wrote here (-1: none remembered). */
  lastSequence: number;
  lastTimestampMs: number;
}

export interface DescribeProducersOutcome {
  topic: string;
  partition: number;
  producers?: ProducerSummary[];
  error?: SluiceError;
}

/** The live producers of each partition the principal may read. */
export function describeProducers(s: BrokerSession, inputs: readonly DescribeProducersInput[]): Promise<DescribeProducersOutcome[]> {
  return permitted(
    s,
    'read',
    inputs,
    (allowed) =>
      allowed.map((i): DescribeProducersOutcome => {
        try {
          const producers = s.topics.partition(i.topic, i.partition).producers.describe();
          return {
            ...i,
            producers: producers.map((e) => ({ producerId: e.producerId, producerEpoch: e.epoch, lastSequence: e.batches.at(-1)?.lastSequence ?? -1, lastTimestampMs: e.lastAppendMs })),
          };
        } catch (err) {
          return { ...i, error: asSluiceError(err) };
        }
      }),
    (i, error) => ({ ...i, error }),
  );
}
