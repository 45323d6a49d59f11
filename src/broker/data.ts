// The broker API for records: produce, fetch, list offsets and subscribe for a session, with the principal's
// per-topic permissions applied once here for every door (the partitions it may not touch are
// answered with TOPIC_AUTHORIZATION_FAILED in the request's order), and fetch limits normalised
// the same way whatever the door decoded. Outcomes are protocol-neutral: each door encodes them.

import type { Acks, EpochEndInput, EpochEndOutcome, FetchInput, FetchOptions, FetchOutcome, ListOffsetsInput, ListOffsetsOutcome, ProduceInput, ProduceOutcome, SubscribeInput } from '../log/log-service.js';
import { SluiceError } from '../errors.js';
import type { LogSubscription, Push, PushSink } from '../log/subscription.js';
import type { LogSlice } from '../storage/partition-log.js';
import { permitted, readDenied } from './authorize.js';
import type { BrokerSession } from './session.js';

export type { Acks, EpochEndOutcome, FetchInput, FetchOutcome, ListOffsetsOutcome, LogSlice, LogSubscription, ProduceInput, ProduceOutcome, Push };

/**
 * Why an acks=0 produce must close its connection: a partition failed, and a producer that gets no
 * response learns of it no other way (as Kafka does). Undefined when every partition was appended.
 */
export function unacknowledgedFailure(outcomes: readonly ProduceOutcome[]): string | undefined {
  const failed = outcomes.find((o) => o.error);
  return failed && `acks=0 produce to ${failed.topic}-${failed.partition} failed: ${failed.error!.code}`;
}

/**
 * A response body per slice and key (a door's version): the fetches one append wakes share the
 * partition's slice, and a one-partition body is a function of that slice alone, so each door
 * encodes it once and only the correlation id differs. Weakly held: bodies go with their slice.
 */
export function bodiesBySlice<B>(): (slice: LogSlice, key: number, encode: () => B) => B {
  const bySlice = new WeakMap<LogSlice, Map<number, B>>();
  return (slice, key, encode) => {
    let byKey = bySlice.get(slice);
    if (!byKey) bySlice.set(slice, (byKey = new Map()));
    let body = byKey.get(key);
    if (body === undefined) byKey.set(key, (body = encode()));
    return body;
  };
}

/** Appends each partition's batches (all or nothing per partition) for a principal that may write them. */
export function produce(s: BrokerSession, inputs: readonly ProduceInput[], acks: Acks): Promise<ProduceOutcome[]> {
  return permitted(s, 'write', inputs, (allowed) => s.log.produce(allowed, acks), (i, error): ProduceOutcome => ({ topic: i.topic, partition: i.partition, error }));
}

/** A fetch's limits as any door may send them (Kafka's are signed: a negative means "none"). */
export interface FetchLimits {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  /** A follower broker's id (-1 or absent: a consumer). */
  replicaId?: number;
  /** The consumer's rack (KIP-392: it may be sent to a replica there). */
  clientRack?: string;
}

/**
 * Fetches the partitions the principal may read (the others answer TOPIC_AUTHORIZATION_FAILED with
 * both offsets -1; a follower broker's fetch needs the replication permission instead, else every
 * partition answers CLUSTER_AUTHORIZATION_FAILED), long-polling on the session's signal; also how long it was parked, which the
 * door reports apart from its processing time. Limits below their floor are raised to it: no
 * negative wait, at least one byte per request and per partition (a whole batch is served anyway).
 */
export async function fetch(s: BrokerSession, inputs: readonly FetchInput[], limits: FetchLimits): Promise<{ outcomes: FetchOutcome[]; waitedSeconds: number }> {
  const options: Omit<FetchOptions, 'signal'> = { maxWaitMs: Math.max(limits.maxWaitMs, 0), minBytes: Math.max(limits.minBytes, 0), maxBytes: Math.max(limits.maxBytes, 1) };
  if (limits.replicaId !== undefined && limits.replicaId >= 0) options.replicaId = limits.replicaId;
  if (limits.clientRack) options.clientRack = limits.clientRack;
  // Copied only when a partition asks for less than a byte (a Kafka client may): fetches are hot.
  const normalised = inputs.every((i) => i.maxBytes >= 1) ? inputs : inputs.map((i) => (i.maxBytes >= 1 ? i : { ...i, maxBytes: 1 }));
  let waitedSeconds = 0;
  const outcomes = await permitted(
    s,
    options.replicaId === undefined ? 'read' : 'replication',
    normalised,
    async (allowed) => {
      const fetched = await s.log.fetch(allowed, { ...options, signal: s.signal });
      waitedSeconds = fetched.waitedSeconds ?? 0;
      return fetched;
    },
    (p, error): FetchOutcome => ({ topic: p.topic, partition: p.partition, error, highWatermark: -1n, logStartOffset: -1n }),
  );
  return { outcomes, waitedSeconds };
}

/** Earliest (-2), latest (-1), the first record at or after a time, or the first with the largest timestamp (-3), for partitions the principal may read. */
export function listOffsets(s: BrokerSession, inputs: readonly ListOffsetsInput[]): Promise<ListOffsetsOutcome[]> {
  return permitted(s, 'read', inputs, (allowed) => s.log.listOffsets(allowed), (p, error): ListOffsetsOutcome => ({ topic: p.topic, partition: p.partition, error, offset: null }));
}

/** Where leader epochs ended in the partitions' logs, for a principal that may read them (followers truncating, clients validating positions). */
export function offsetForLeaderEpoch(s: BrokerSession, inputs: readonly EpochEndInput[], replicaId = -1): Promise<EpochEndOutcome[]> {
  return permitted(s, replicaId >= 0 ? 'replication' : 'read', inputs, (allowed) => s.log.offsetForLeaderEpoch(allowed), (p, error): EpochEndOutcome => ({ topic: p.topic, partition: p.partition, leaderEpoch: -1, endOffset: -1n, error }));
}

export type SubscribeOutcome = { subscription: LogSubscription; error?: undefined } | { error: SluiceError; highWatermark: bigint; logStartOffset: bigint };

/**
 * Opens a push subscription for a principal that may read the topic. A refusal comes with the
 * partition's offsets where they are known here, except to a principal that may not read: it
 * learns nothing of the partition (both offsets -1).
 */
export function subscribe(s: BrokerSession, input: SubscribeInput, sink: PushSink): SubscribeOutcome {
  const refused = readDenied(s, input.topic);
  if (refused) return { error: refused, highWatermark: -1n, logStartOffset: -1n };
  try {
    return { subscription: s.log.subscribe(input, sink) };
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    const p = s.topics.get(input.topic)?.partitions[input.partition];
    return p && !p.closed ? { error: err, highWatermark: p.highWatermark, logStartOffset: p.logStartOffset } : { error: err, highWatermark: -1n, logStartOffset: -1n };
  }
}
