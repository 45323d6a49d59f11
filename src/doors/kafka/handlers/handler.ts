// What a Kafka API handler is: a decoder for its request (synchronous, so a request that cannot be
// parsed is refused before anything happens) and a thin handler that calls the same domain services
// as Sluice's own handlers and encodes the answer. Errors the client should see are encoded in the
// response's error fields by the handler; anything thrown is a bug and closes the connection.

import type { BrokerSession } from '../../../broker/session.js';
import { KafkaWriter, type KafkaReader } from '../../../protocol/kafka-wire.js';
import type { RequestHeader } from '../../../vocabulary.js';

export type KafkaReply =
  /** The response body; `outcome` labels the request metric (`ok` or an error code); `waitedSeconds`: a long poll's wait, kept out of its processing time. */
  | { body: KafkaWriter; outcome?: string; waitedSeconds?: number }
  /** No response at all (acks=0); `closeReason` closes the connection. */
  | { noResponse: true; closeReason?: string };

export interface KafkaHandler<T = unknown> {
  decode(r: KafkaReader, version: number): T;
  handle(ctx: BrokerSession, request: T, header: RequestHeader): KafkaReply | Promise<KafkaReply>;
}

export function kafkaHandler<T>(decode: (r: KafkaReader, version: number) => T, handle: KafkaHandler<T>['handle']): KafkaHandler {
  return { decode, handle } as KafkaHandler;
}

/** A response body written by `write`. */
export function body(write: (w: KafkaWriter) => void): KafkaReply {
  const w = new KafkaWriter();
  write(w);
  return { body: w };
}

/** Kafka requests nest partitions in topics; the domain takes flat lists. */
export function flatten<P, O>(topics: ReadonlyArray<{ name: string; partitions: readonly P[] }>, each: (topic: string, p: P) => O): O[] {
  return topics.flatMap((t) => t.partitions.map((p) => each(t.name, p)));
}

/** Flat per-partition results back under their topics, in first-seen order. */
export function byTopic<O extends { topic: string }, P>(outcomes: readonly O[], each: (o: O) => P): Array<{ name: string; partitions: P[] }> {
  const topics = new Map<string, P[]>();
  for (const o of outcomes) {
    let list = topics.get(o.topic);
    if (!list) topics.set(o.topic, (list = []));
    list.push(each(o));
  }
  return [...topics].map(([name, partitions]) => ({ name, partitions }));
}
