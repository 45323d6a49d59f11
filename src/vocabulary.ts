// Words every layer shares, defined once: a partition of a topic, how many acknowledgements a
// produce waits for, what every request's header says (in either protocol), and how many batches an idempotent producer may have unacknowledged. Codecs, the domain, the broker API, both doors and the client import these;
// this module imports nothing.

/** One partition of one topic. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Acknowledgements a produce waits for: 0 none (no response), 1 the page cache, -1 fsynced ("all"). */
export type Acks = 0 | 1 | -1;

/** Whether a number a client sent is one of the acks a produce may ask for. */
export function isAcks(n: number): n is Acks {
  return n === 0 || n === 1 || n === -1;
}

/** The fields of a request header in both protocols (Kafka's header v1, Sluice's meta header). */
export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** Null when the client sent none. */
  clientId: string | null;
}

/**
 * How many batches per producer and partition the broker remembers to recognise retries, and so
 * how many a producer may leave unacknowledged there. Kafka remembers 5, its clients' most in
 * flight (max.in.flight.requests.per.connection); remembering more answers every retry Kafka would
 * recognise the same way. Sluice's Producer uses the room: with acks=all each request waits for an
 * fsync, and 5 batches of 64 KiB in flight held it to a third of its non-idempotent throughput, 64 to
 * four fifths (`bench produce --acks all,all-no-idempotence`); 200 (12.5 MiB of 64 KiB batches) is
 * on a par. The snapshot codec counts batches in a byte: at most 255.
 */
export const IDEMPOTENT_BATCHES_REMEMBERED = 200;
