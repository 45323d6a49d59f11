// One consumer group's in-memory state: members, generation, leader, chosen protocol, and the
// requests parked on it (joins waiting for the rebalance to complete, syncs waiting for the
// leader's assignment). Transitions live in the coordinator; this module only holds state and
// answers questions about it.
//
// Static members (KIP-345) carry a group instance id chosen by the user; `staticMembers` maps each
// to the member id that currently holds it, so a restarted process (same instance id, new member
// id) replaces its predecessor instead of joining as a stranger.
//
// States (Kafka's classic protocol):
//   Empty               no members (committed offsets may exist)
//   PreparingRebalance  collecting joins; completes when every member has rejoined or the rebalance timeout passes
//   CompletingRebalance joins answered (generation bumped); waiting for the leader's SyncGroup with assignments
//   Stable              every member has its assignment; heartbeats keep sessions alive

import type { SluiceError } from '../errors.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface GroupProtocol {
  /** An assignment strategy (`range`, `roundrobin`, ...). */
  name: string;
  /** Opaque to the broker (the member's subscription). */
  metadata: Buffer;
}

export interface JoinResult {
  memberId: string;
  generationId: number;
  protocolName: string | null;
  leaderId: string;
  /** Every member and its metadata for the chosen protocol; only the leader gets them. */
  members: Array<{ memberId: string; metadata: Buffer; groupInstanceId?: string }>;
}

export type Settle<T> = { resolve(value: T): void; reject(err: SluiceError): void };

export interface Member {
  readonly memberId: string;
  /** A static member's instance id (KIP-345); null for a dynamic member. */
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: GroupProtocol[];
  /** This member's assignment in the current generation (empty until the leader syncs). */
  assignment: Buffer;
  /** A JoinGroup waiting for the rebalance to complete. */
  awaitingJoin?: Settle<JoinResult>;
  /** A SyncGroup waiting for the leader's assignments. */
  awaitingSync?: Settle<Buffer>;
  /** Cancels the member's session-expiry timer. */
  cancelSession?: () => void;
}

export class Group {
  readonly groupId: string;
  state: GroupState = 'Empty';
  protocolType: string | null = null;
  generationId = 0;
  protocol: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Group instance id -> the member id that holds it now. */
  readonly staticMembers = new Map<string, string>();
  /**
   * Member ids handed out with MEMBER_ID_REQUIRED (KIP-394) and not yet used to join, each with
   * the cancel of its expiry: a client that never comes back does not leave a member behind.
   */
  readonly pendingMembers = new Map<string, () => void>();
  /** The rebalance waits its whole delay (an empty group's first), not just for every member. */
  waitFullDelay = false;
  /** Cancels the pending rebalance completion. */
  cancelRebalance?: () => void;

  constructor(groupId: string, generationId = 0) {
    this.groupId = groupId;
    this.generationId = generationId;
  }

  /** Every member has rejoined, and no member id handed out with MEMBER_ID_REQUIRED is still to come (as Kafka waits). */
  allJoined(): boolean {
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return this.pendingMembers.size === 0;
  }

  /** The rebalance may take as long as the longest rebalance timeout of its members. */
  rebalanceTimeoutMs(): number {
    let ms = 0;
    for (const m of this.members.values()) ms = Math.max(ms, m.rebalanceTimeoutMs);
    return ms;
  }

  /** Strategies every member supports, in the order the first member prefers them. */
  commonProtocols(candidate?: GroupProtocol[]): string[] {
    const lists = [...this.members.values()].map((m) => m.protocols.map((p) => p.name));
    if (candidate) lists.push(candidate.map((p) => p.name));
    if (lists.length === 0) return [];
    return lists[0]!.filter((name) => lists.every((l) => l.includes(name)));
  }
}
