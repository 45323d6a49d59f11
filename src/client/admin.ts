// Administration: topics (create, delete, list, describe, add partitions, describe and alter
// configs) and consumer groups (list, describe
// with committed offsets and lag, delete, delete offsets, reset offsets). Errors come back as
// SluiceErrors with their codes. Requests about a partition's records (list offsets, delete
// records, describe producers) go to its leader; requests about a group to its coordinator (as
// FindCoordinator names it, asked again while the answer says it moved); listing groups asks every
// broker (each lists the groups it coordinates); the rest go to whichever broker the client reached.

import { SluiceError, type ErrorCode } from '../errors.js';
import type { DeleteGroupsResponse, DescribeGroupsResponse, ListGroupsResponse, OffsetCommitResponse, OffsetDeleteResponse } from '../protocol/group-messages.js';
import {
  ApiKey,
  type CreateTopicsResponse,
  type DescribeConfigsResponse,
  type ErrorBody,
  type IncrementalAlterConfigsResponse,
  type DeleteRecordsResponse,
  type DescribeProducersResponse,
  type ProducerDescription,
  type MetadataResponse,
  type TopicConfigInput,
} from '../protocol/messages.js';
import { decodeConsumerAssignment } from '../protocol/consumer-protocol.js';
import { decodeAssignment } from './assignors.js';
import { BrokerClient, type ClientOptions } from './broker-client.js';
import type { TopicPartition } from '../vocabulary.js';

export interface TopicDescription {
  name: string;
  internal: boolean;
  /** Offsets and sizes are those of the answering broker's copy (absent where it holds none); replicas and ISR in a cluster. */
  partitions: MetadataResponse['topics'][number]['partitions'];
  /** The settings the topic runs with (absent from brokers that do not say). */
  config?: MetadataResponse['topics'][number]['config'];
}

export interface ClusterDescription {
  clusterId: string;
  /** -1: no controller elected right now. */
  controllerId: number;
  /** The live brokers (Sluice's listener of each). */
  brokers: MetadataResponse['brokers'];
  topics: TopicDescription[];
}

export interface GroupDescription {
  groupId: string;
  state: string;
  protocol: string | null;
  generationId: number;
  members: Array<{ memberId: string; clientId: string; clientHost: string; assignment: Array<TopicPartition> }>;
  /** Per partition: committed offset, high watermark and lag, with the member assigned to it. */
  partitions: Array<{ topic: string; partition: number; committedOffset: bigint; highWatermark: bigint; lag: bigint; memberId: string | null }>;
}

/** Where `resetOffsets` moves a group, as Kafka's kafka-consumer-groups --reset-offsets. */
export type OffsetResetTarget = { earliest: true } | { latest: true } | { timestampMs: number } | { offset: bigint } | { shiftBy: bigint };

export interface OffsetReset {
  topic: string;
  partition: number;
  /** The committed offset before (null: none). */
  current: bigint | null;
  target: bigint;
}

const toError = (e: ErrorBody, what: string) => new SluiceError(e.code as ErrorCode, `${what}: ${e.message}`);

export class Admin {
  readonly #client: BrokerClient;

  constructor(options: ClientOptions = {}) {
    this.#client = new BrokerClient({ clientId: 'sluice-admin', ...options });
  }

  /** `replicationFactor` (a cluster; -1 or absent: its default) and `config.minInsyncReplicas` go to the cluster. */
  async createTopic(name: string, options: { partitions?: number; replicationFactor?: number; config?: TopicConfigInput } = {}): Promise<void> {
    const r = await this.#client.call<CreateTopicsResponse>(ApiKey.CreateTopics, {
      topics: [{ name, partitions: options.partitions ?? -1, ...(options.replicationFactor !== undefined ? { replicationFactor: options.replicationFactor } : {}), config: options.config ?? {} }],
    });
    const e = r.topics[0]?.error;
    if (e) throw toError(e, `create ${name}`);
  }

  /** Grows `name` to `count` partitions (never fewer). */
  async createPartitions(name: string, count: number): Promise<void> {
    const r = await this.#client.call<CreateTopicsResponse>(ApiKey.CreatePartitions, { topics: [{ name, count }] });
    const e = r.topics[0]?.error;
    if (e) throw toError(e, `add partitions to ${name}`);
  }

  /** The topic's settings by Kafka name (`retention.ms`, ...): the value it runs with and whether the topic sets it or the broker's default applies. */
  async describeConfigs(name: string): Promise<DescribeConfigsResponse['topics'][number]['configs']> {
    const r = await this.#client.call<DescribeConfigsResponse>(ApiKey.DescribeConfigs, { topics: [name] });
    const t = r.topics[0];
    if (t?.error) throw toError(t.error, `describe the configs of ${name}`);
    return t?.configs ?? [];
  }

  /**
   * Changes some of the topic's settings by Kafka name: a string sets one, null returns it to the
   * broker's default; the others stay. Live: they apply from the next append, roll or retention pass.
   */
  async alterConfigs(name: string, changes: Record<string, string | null>, options: { validateOnly?: boolean } = {}): Promise<void> {
    const topics = [{ name, changes: Object.entries(changes).map(([key, value]) => ({ name: key, value })) }];
    const r = await this.#client.call<IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, { topics, validateOnly: options.validateOnly ?? false });
    const e = r.topics[0]?.error;
    if (e) throw toError(e, `alter the configs of ${name}`);
  }

  async deleteTopic(name: string): Promise<void> {
    const r = await this.#client.call<CreateTopicsResponse>(ApiKey.DeleteTopics, { topics: [name] });
    const e = r.topics[0]?.error;
    if (e) throw toError(e, `delete ${name}`);
  }

  /**
   * Deletes the records of `topic`-`partition` below `offset` (-1: all of them): its log start
   * moves there for every reader. Returns the new log start (OFFSET_OUT_OF_RANGE past the end).
   */
  async deleteRecords(topic: string, partition: number, offset: bigint): Promise<bigint> {
    const [p] = await this.#client.perLeader([{ topic, partition, offset }], async (target, parts) =>
      (await this.#client.callAt<DeleteRecordsResponse>(target, ApiKey.DeleteRecords, { partitions: parts.map((x) => ({ topic: x.topic, partition: x.partition, offset: x.offset })) })).partitions,
    );
    if (p?.error) throw toError(p.error, `delete records of ${topic}-${partition} below ${offset}`);
    return p!.lowWatermark!;
  }

  /**
   * The idempotent producers each partition of `topic` knows (all its partitions, or those named):
   * id, epoch, last sequence and last write, as kafka-transactions describe-producers shows them.
   */
  async describeProducers(topic: string, partitions?: number[]): Promise<Array<{ partition: number; producers: ProducerDescription[] }>> {
    const which = partitions ?? (await this.describeTopic(topic)).partitions.map((p) => p.partition);
    const answers = await this.#client.perLeader(
      which.map((partition) => ({ topic, partition })),
      async (target, parts) => (await this.#client.callAt<DescribeProducersResponse>(target, ApiKey.DescribeProducers, { partitions: parts.map((x) => ({ topic: x.topic, partition: x.partition })) })).partitions,
    );
    return answers.map((p) => {
      if (p.error) throw toError(p.error, `describe producers of ${topic}-${p.partition}`);
      return { partition: p.partition, producers: p.producers ?? [] };
    });
  }

  /**
   * The cluster as the answering broker sees it: the live brokers, the controller, and every
   * topic's partitions with leader, epoch, replicas and ISR (offsets are the answering broker's copy).
   */
  async describeCluster(): Promise<ClusterDescription> {
    const r = await this.#client.call<MetadataResponse>(ApiKey.Metadata, { topics: null, allowAutoCreate: false });
    return { clusterId: r.clusterId, controllerId: r.controllerId, brokers: r.brokers, topics: r.topics.map(describeTopic).sort((a, b) => a.name.localeCompare(b.name)) };
  }

  async listTopics(): Promise<TopicDescription[]> {
    const r = await this.#client.call<MetadataResponse>(ApiKey.Metadata, { topics: null });
    return r.topics.map(describeTopic).sort((a, b) => a.name.localeCompare(b.name));
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const r = await this.#client.call<MetadataResponse>(ApiKey.Metadata, { topics: [name], allowAutoCreate: false });
    const t = r.topics[0]!;
    if (t.error) throw toError(t.error, `describe ${name}`);
    return describeTopic(t);
  }

  /** Every group of the cluster: each broker lists those it coordinates (a broker that fails the listing makes it start again, with the brokers named then). */
  async listGroups(): Promise<ListGroupsResponse['groups']> {
    return this.#client.withRetries(async () => {
      await this.#client.metadata.refresh([], false);
      const metadata = this.#client.metadata;
      const targets = [...new Set(metadata.nodeIds().map((id) => metadata.target(id)))];
      if (targets.length <= 1) return (await this.#client.callAt<ListGroupsResponse>(targets[0] ?? 'bootstrap', ApiKey.ListGroups, {})).groups;
      const answers = await Promise.all(targets.map((target) => this.#client.callAt<ListGroupsResponse>(target, ApiKey.ListGroups, {})));
      const groups = new Map(answers.flatMap((a) => a.groups.map((g) => [g.groupId, g] as const)));
      return [...groups.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    });
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    const r = await this.#atCoordinator<DescribeGroupsResponse>(groupId, ApiKey.DescribeGroups, { groups: [groupId] }, (x) => x.groups[0]?.error);
    const g = r.groups[0]!;
    if (g.error) throw toError(g.error, `describe group ${groupId}`);
    if (g.state === 'Dead') throw new SluiceError('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    const members = g.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      assignment: g.protocolType === 'consumer' ? safeAssignment(m.assignment) : [],
    }));
    const owner = new Map(members.flatMap((m) => m.assignment.map((a) => [`${a.topic}\u0000${a.partition}`, m.memberId] as const)));
    const partitions = g.offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      committedOffset: o.offset,
      highWatermark: o.highWatermark,
      lag: o.lag,
      memberId: owner.get(`${o.topic}\u0000${o.partition}`) ?? null,
    }));
    return { groupId, state: g.state, protocol: g.protocol, generationId: g.generationId, members, partitions };
  }

  /** Deletes a group without members: its committed offsets and its stored generation. */
  async deleteGroup(groupId: string): Promise<void> {
    const r = await this.#atCoordinator<DeleteGroupsResponse>(groupId, ApiKey.DeleteGroups, { groupIds: [groupId] }, (x) => x.groups[0]?.error);
    const e = r.groups[0]?.error;
    if (e) throw toError(e, `delete group ${groupId}`);
  }

  /**
   * Deletes a group's committed offsets of `topic` (every partition unless `partitions` says), as
   * Kafka's OffsetDelete: all of them while the group has no members; while it has, the partitions
   * its members do not subscribe to, each of the others answering GROUP_SUBSCRIBED_TO_TOPIC (their
   * members would commit them again). One outcome per partition; a refusal of the whole request
   * (GROUP_ID_NOT_FOUND; NON_EMPTY_GROUP for a group of another protocol than "consumer") throws.
   */
  async deleteOffsets(groupId: string, topic: string, partitions?: number[]): Promise<Array<{ partition: number; error?: SluiceError }>> {
    const list = partitions ?? (await this.describeTopic(topic)).partitions.map((p) => p.partition);
    const r = await this.#atCoordinator<OffsetDeleteResponse>(groupId, ApiKey.OffsetDelete, { groupId, partitions: list.map((partition) => ({ topic, partition })) });
    return r.partitions.map((p) => (p.error ? { partition: p.partition, error: toError(p.error, `delete the offset of ${topic}-${p.partition} in group ${groupId}`) } : { partition: p.partition }));
  }

  /**
   * Moves a group's committed offsets of `topic` (every partition unless `partitions` says) to
   * `to`, clamped to each partition's log; refused while the group has members (NON_EMPTY_GROUP).
   * With `dryRun` nothing is committed: the plan is returned.
   */
  async resetOffsets(groupId: string, topic: string, to: OffsetResetTarget, options: { partitions?: number[]; dryRun?: boolean } = {}): Promise<OffsetReset[]> {
    const group = await this.describeGroup(groupId).catch((err: unknown) => {
      if (err instanceof SluiceError && err.code === 'GROUP_ID_NOT_FOUND') return undefined;
      throw err;
    });
    if (group && group.members.length > 0) throw new SluiceError('NON_EMPTY_GROUP', `group ${groupId} has ${group.members.length} members; stop them before resetting its offsets`);
    const partitions = options.partitions ?? (await this.describeTopic(topic)).partitions.map((p) => p.partition);
    const list = async (timestamp: bigint) => {
      const r = await this.#client.listOffsets(partitions.map((partition) => ({ topic, partition, timestamp })));
      const bad = r.find((p) => p.error);
      if (bad?.error) throw toError(bad.error, `offsets of ${topic}-${bad.partition}`);
      return new Map(r.map((p) => [p.partition, p.offset ?? null]));
    };
    const [starts, ends] = await Promise.all([list(-2n), list(-1n)]);
    const at = 'timestampMs' in to ? await list(BigInt(to.timestampMs)) : undefined;
    const committed = new Map((group?.partitions ?? []).filter((p) => p.topic === topic && p.committedOffset >= 0n).map((p) => [p.partition, p.committedOffset]));
    const plan = partitions.map((partition): OffsetReset => {
      const start = starts.get(partition)!;
      const end = ends.get(partition)!;
      const current = committed.get(partition) ?? null;
      const wanted =
        'earliest' in to ? start : 'latest' in to ? end : 'timestampMs' in to ? (at!.get(partition) ?? end) : 'offset' in to ? to.offset : (current ?? start) + to.shiftBy;
      return { topic, partition, current, target: wanted < start ? start : wanted > end ? end : wanted };
    });
    if (!options.dryRun) {
      const r = await this.#atCoordinator<OffsetCommitResponse>(
        groupId,
        ApiKey.OffsetCommit,
        { groupId, generationId: -1, memberId: '', offsets: plan.map((p) => ({ topic, partition: p.partition, offset: p.target })) },
        (x) => x.partitions.find((p) => p.error)?.error,
      );
      const bad = r.partitions.find((p) => p.error);
      if (bad?.error) throw toError(bad.error, `reset of ${topic}-${bad.partition}`);
    }
    return plan;
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  /**
   * A request about group `groupId` at its coordinator, asked again (after a backoff, up to the
   * client's retries) while the answer, or the group's error in it (`groupError`), says the
   * coordinator moved or is not ready yet.
   */
  #atCoordinator<T>(groupId: string, apiKey: number, body: unknown, groupError: (r: T) => ErrorBody | undefined = () => undefined): Promise<T> {
    return this.#client.withRetries(async () => {
      const r = await this.#client.callAt<T>(await this.#client.coordinator(groupId), apiKey, body);
      const e = groupError(r);
      if (e && COORDINATOR_MOVED.has(e.code)) throw new SluiceError(e.code as ErrorCode, e.message);
      return r;
    });
  }
}

/** Group answers after which the coordinator is looked up again. */
const COORDINATOR_MOVED: ReadonlySet<string> = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);

function describeTopic(t: MetadataResponse['topics'][number]): TopicDescription {
  return { name: t.name, internal: t.internal === true, partitions: t.partitions, ...(t.config ? { config: t.config } : {}) };
}

/**
 * Sluice's assignment format (a MessagePack map), or a Kafka client's (consumer protocol, which
 * starts with its int16 version, so a zero byte); anything else is shown as no partitions.
 */
function safeAssignment(bytes: Uint8Array): Array<TopicPartition> {
  try {
    if (bytes[0] === 0) return decodeConsumerAssignment(bytes);
    return [...decodeAssignment(bytes)].flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
  } catch {
    return [];
  }
}
