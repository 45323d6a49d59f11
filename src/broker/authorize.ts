// Per-topic permissions inside a request: the partitions a principal may touch go on to the
// domain; the others are answered with TOPIC_AUTHORIZATION_FAILED, in the request's order.

import { denied, type Operation } from '../auth/access.js';
import type { SluiceError } from '../errors.js';
import type { BrokerSession } from './session.js';

export async function permitted<I extends { topic: string }, O>(
  ctx: BrokerSession,
  operation: Exclude<Operation, 'admin'>,
  items: readonly I[],
  run: (allowed: I[]) => O[] | Promise<O[]>,
  refuse: (item: I, err: SluiceError) => O,
): Promise<O[]> {
  const principal = ctx.session.principal!; // the connection lets no unauthenticated request this far
  const denials = items.map((item) => denied(principal, operation, item.topic));
  if (denials.every((d) => d === undefined)) return run([...items]);
  const results = await run(items.filter((_, k) => denials[k] === undefined));
  let next = 0;
  return items.map((item, k) => (denials[k] ? refuse(item, denials[k]) : results[next++]!));
}

/** CLUSTER_AUTHORIZATION_FAILED unless the principal may create and delete topics. */
export function adminDenied(ctx: BrokerSession): SluiceError | undefined {
  return denied(ctx.session.principal!, 'admin');
}

/** TOPIC_AUTHORIZATION_FAILED unless the principal may read `topic`. */
export function readDenied(s: BrokerSession, topic: string): SluiceError | undefined {
  return denied(s.session.principal!, 'read', topic);
}

/** What the principal may do to `topic` (Kafka's authorized-operation bitfields are drawn from this). */
export function topicPermissions(s: BrokerSession, topic: string): { read: boolean; write: boolean; admin: boolean } {
  const principal = s.session.principal!;
  return { read: !denied(principal, 'read', topic), write: !denied(principal, 'write', topic), admin: !denied(principal, 'admin') };
}
