// What the leader of a replicated partition knows of its followers (Kafka's Partition/Replica
// state on a leader): each follower's log end offset as its fetches report it and when it last
// caught up; the in-sync replica set (ISR) as the cluster store holds it, plus at most one change
// proposed and not yet written; and the high watermark, the offset below which every ISR member
// holds the log, which only moves forward. Pure: no I/O, times are passed in; the partition asks,
// the cluster layer writes proposed ISR changes to the store and reports back.
//
// Kafka's rules: a follower is caught up when it fetched at or past the leader's log end; it
// leaves the ISR when it has not caught up for `replicaLagTimeMaxMs`, and joins again once its
// log end reaches the high watermark (and the start of the leader's epoch). The high watermark is
// the least log end over the "maximal" ISR: the committed ISR plus a proposed addition, so an
// expansion in flight cannot let the watermark pass a replica that is about to count. A shrink
// counts only once committed, so a deposed leader can never commit on fewer replicas than the store
// knows of.

export interface FollowerState {
  logEndOffset: bigint;
  /** The last time the follower was caught up (ms, injected clock); -Infinity never. */
  lastCaughtUpMs: number;
  /** When its previous fetch came, and the leader's log end then (Kafka's lastCaughtUp rule). */
  lastFetchMs: number;
  lastFetchLeaderEndOffset: bigint;
}

export interface ReplicationSetup {
  nodeId: number;
  leaderEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
  /** Where this leader's epoch starts in its log: a follower below it cannot join the ISR. */
  epochStartOffset: bigint;
  /** The high watermark the broker knew when it took leadership. */
  highWatermark: bigint;
  nowMs: number;
}

export class LeaderReplication {
  readonly nodeId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly epochStartOffset: bigint;
  readonly #followers = new Map<number, FollowerState>();
  #isr: readonly number[];
  #proposed: readonly number[] | undefined;
  #highWatermark: bigint;

  constructor(setup: ReplicationSetup) {
    this.nodeId = setup.nodeId;
    this.leaderEpoch = setup.leaderEpoch;
    this.replicas = setup.replicas;
    this.epochStartOffset = setup.epochStartOffset;
    this.#isr = setup.isr;
    this.#highWatermark = setup.highWatermark;
    // Followers start as caught up now: a new leader gives them the lag time to show up.
    for (const id of setup.replicas) {
      if (id !== setup.nodeId) this.#followers.set(id, { logEndOffset: -1n, lastCaughtUpMs: setup.nowMs, lastFetchMs: setup.nowMs, lastFetchLeaderEndOffset: -1n });
    }
  }

  get isr(): readonly number[] {
    return this.#isr;
  }

  /** The ISR change written to the store and not yet confirmed, if any. */
  get proposedIsr(): readonly number[] | undefined {
    return this.#proposed;
  }

  get highWatermark(): bigint {
    return this.#highWatermark;
  }

  follower(id: number): FollowerState | undefined {
    return this.#followers.get(id);
  }

  /**
   * A fetch from follower `id` at `fetchOffset` (its log end) when the leader's log ends at
   * `leaderEndOffset`. Returns true when the high watermark moved.
   */
  followerFetched(id: number, fetchOffset: bigint, leaderEndOffset: bigint, nowMs: number): boolean {
    const f = this.#followers.get(id);
    if (!f) return false;
    if (fetchOffset >= leaderEndOffset) f.lastCaughtUpMs = nowMs;
    else if (fetchOffset >= f.lastFetchLeaderEndOffset) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.lastFetchMs);
    f.logEndOffset = fetchOffset;
    f.lastFetchMs = nowMs;
    f.lastFetchLeaderEndOffset = leaderEndOffset;
    return this.advanceHighWatermark(leaderEndOffset);
  }

  /** Moves the high watermark up to the least log end of the maximal ISR; true when it moved. */
  advanceHighWatermark(leaderEndOffset: bigint): boolean {
    let least = leaderEndOffset;
    for (const id of this.#maximalIsr()) {
      if (id === this.nodeId) continue;
      const end = this.#followers.get(id)?.logEndOffset ?? -1n;
      if (end < least) least = end;
    }
    if (least <= this.#highWatermark) return false;
    this.#highWatermark = least;
    return true;
  }

  /**
   * The ISR this leader wants now, or undefined when it is the current one (or a change is in
   * flight): members that have not caught up for `lagMs` leave, replicas that reached the high
   * watermark and this epoch's start join. The leader never leaves its own ISR.
   */
  desiredIsr(nowMs: number, lagMs: number): readonly number[] | undefined {
    if (this.#proposed) return undefined;
    const next = this.replicas.filter((id) => {
      if (id === this.nodeId) return true;
      const f = this.#followers.get(id)!;
      if (this.#isr.includes(id)) return nowMs - f.lastCaughtUpMs <= lagMs;
      return f.logEndOffset >= this.#highWatermark && f.logEndOffset >= this.epochStartOffset && nowMs - f.lastCaughtUpMs <= lagMs;
    });
    return sameMembers(next, this.#isr) ? undefined : next;
  }

  /** A change is being written to the store (at most one at a time). */
  propose(isr: readonly number[]): void {
    this.#proposed = isr;
  }

  /** The store holds `isr` now (the proposal committed, or the controller changed it). */
  committed(isr: readonly number[]): void {
    this.#isr = isr;
    this.#proposed = undefined;
  }

  /** The proposal was refused (the store changed underneath): the next check proposes again. */
  refused(): void {
    this.#proposed = undefined;
  }

  #maximalIsr(): readonly number[] {
    if (!this.#proposed) return this.#isr;
    return [...new Set([...this.#isr, ...this.#proposed])];
  }
}

export function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
