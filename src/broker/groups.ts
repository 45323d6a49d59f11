// The broker API for consumer groups' offsets and lifecycle: commits and fetches of committed
// offsets with the per-topic read rule (a principal neither commits nor sees offsets of topics it
// may not read), and deleting groups and offsets (admin acts). Membership calls (join, sync,
// heartbeat, leave) go to the coordinator as they are: they carry no per-topic rule.

import { SluiceError } from '../errors.js';
import type { CommittedOffset } from '../group/offset-store.js';
import { adminDenied, permitted, readDenied } from './authorize.js';
import type { BrokerSession } from './session.js';
import type { TopicPartition } from '../vocabulary.js';

type CommitRequest = Parameters<BrokerSession['groups']['commit']>[0];
type Offset = Parameters<BrokerSession['groups']['commit']>[1][number];

export interface PartitionOutcome {
  topic: string;
  partition: number;
  error?: SluiceError;
}

/** Commits offsets of the partitions the principal may read; the others answer TOPIC_AUTHORIZATION_FAILED. A refusal of the whole commit (stale generation) throws. */
export function commitOffsets(s: BrokerSession, request: CommitRequest, offsets: readonly Offset[]): Promise<PartitionOutcome[]> {
  return permitted(s, 'read', offsets, (allowed) => s.groups.commit(request, allowed), (o, error): PartitionOutcome => ({ topic: o.topic, partition: o.partition, error }));
}

export interface FetchedOffset {
  topic: string;
  partition: number;
  committed: CommittedOffset | null;
  /** TOPIC_AUTHORIZATION_FAILED: the principal may not read the topic (and sees no offset). */
  error?: SluiceError;
}

/**
 * Committed offsets of `groupId`: the named partitions, or every partition with a commit when
 * `partitions` is null, in which case topics the principal may not read are left out altogether.
 */
export function fetchOffsets(s: BrokerSession, groupId: string, partitions: ReadonlyArray<TopicPartition> | null): FetchedOffset[] {
  const fetched = s.groups.fetchOffsets(groupId, partitions).map((o): FetchedOffset => {
    const refused = readDenied(s, o.topic);
    return refused ? { topic: o.topic, partition: o.partition, committed: null, error: refused } : o;
  });
  return partitions === null ? fetched.filter((o) => !o.error) : fetched;
}

/** Deleting a group is an admin act. One outcome per group, in order. */
export async function deleteGroups(s: BrokerSession, groupIds: readonly string[]): Promise<Array<{ groupId: string; error?: SluiceError }>> {
  const refused = adminDenied(s);
  const results: Array<{ groupId: string; error?: SluiceError }> = [];
  for (const groupId of groupIds) {
    if (refused) {
      results.push({ groupId, error: refused });
      continue;
    }
    try {
      await s.groups.deleteGroup(groupId);
      results.push({ groupId });
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      results.push({ groupId, error: err });
    }
  }
  return results;
}

/** An admin act too: throws the refusal, or NON_EMPTY_GROUP while the group has members. */
export async function deleteOffsets(s: BrokerSession, groupId: string, partitions: ReadonlyArray<TopicPartition>): Promise<void> {
  const refused = adminDenied(s);
  if (refused) throw refused;
  await s.groups.deleteOffsets(groupId, partitions);
}
