// Kafka's authorized-operation bitfields (Metadata v8+, DescribeCluster), drawn from what the
// principal may do in Sluice's terms: read, write, administer.

import { adminDenied, topicPermissions } from '../../../broker/authorize.js';
import type { BrokerSession } from '../../../broker/session.js';

/** Kafka's AclOperation codes. */
const ACL = { READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11 } as const;

const bits = (ops: readonly number[]) => ops.reduce((b, op) => b | (1 << op), 0);

/** On the cluster an admin creates, alters and describes (topics and their configs); anyone else may describe it. */
export function clusterOperations(ctx: BrokerSession): number {
  return bits(adminDenied(ctx) ? [ACL.DESCRIBE] : [ACL.CREATE, ACL.ALTER, ACL.DESCRIBE, ACL.DESCRIBE_CONFIGS, ACL.ALTER_CONFIGS]);
}

/** On a topic: a reader describes it and its configs, a writer writes, an admin creates, deletes and alters it. */
export function topicOperations(ctx: BrokerSession, topic: string): number {
  const may = topicPermissions(ctx, topic);
  const ops: number[] = [];
  if (may.read) ops.push(ACL.READ, ACL.DESCRIBE, ACL.DESCRIBE_CONFIGS);
  if (may.write) ops.push(ACL.WRITE);
  if (may.admin) ops.push(ACL.CREATE, ACL.DELETE, ACL.ALTER, ACL.ALTER_CONFIGS);
  return bits(ops);
}
