// Administration: topics (create, delete, list, describe) and consumer groups (list, describe
// with committed offsets and lag). Errors come back as SluiceErrors with their codes.

import { SluiceError, type ErrorCode } from '../errors.js';
import type { DescribeGroupsResponse, ListGroupsResponse } from '../protocol/group-messages.js';
import { ApiKey, type CreateTopicsResponse, type ErrorBody, type MetadataResponse, type TopicConfigInput } from '../protocol/messages.js';
import { decodeConsumerAssignment } from '../kafka/messages/consumer-protocol.js';
import { decodeAssignment } from './assignors.js';
import { BrokerClient, type ClientOptions } from './broker-client.js';

export interface TopicDescription {
  name: string;
  internal: boolean;
  partitions: Array<{ partition: number; leader: number; highWatermark: bigint; logStartOffset: bigint }>;
}

export interface GroupDescription {
  groupId: string;
  state: string;
  protocol: string | null;
  generationId: number;
  members: Array<{ memberId: string; clientId: string; clientHost: string; assignment: Array<{ topic: string; partition: number }> }>;
  /** Per partition: committed offset, high watermark and lag, with the member assigned to it. */
  partitions: Array<{ topic: string; partition: number; committedOffset: bigint; highWatermark: bigint; lag: bigint; memberId: string | null }>;
}

const toError = (e: ErrorBody, what: string) => new SluiceError(e.code as ErrorCode, `${what}: ${e.message}`);

export class Admin {
  readonly #client: BrokerClient;

  constructor(options: ClientOptions = {}) {
    this.#client = new BrokerClient({ clientId: 'sluice-admin', ...options });
  }

  async createTopic(name: string, options: { partitions?: number; config?: TopicConfigInput } = {}): Promise<void> {
    const r = await this.#client.call<CreateTopicsResponse>(ApiKey.CreateTopics, { topics: [{ name, partitions: options.partitions ?? -1, config: options.config ?? {} }] });
    const e = r.topics[0]?.error;
    if (e) throw toError(e, `create ${name}`);
  }

  async deleteTopic(name: string): Promise<void> {
    const r = await this.#client.call<CreateTopicsResponse>(ApiKey.DeleteTopics, { topics: [name] });
    const e = r.topics[0]?.error;
    if (e) throw toError(e, `delete ${name}`);
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

  async listGroups(): Promise<ListGroupsResponse['groups']> {
    return (await this.#client.call<ListGroupsResponse>(ApiKey.ListGroups, {})).groups;
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    const r = await this.#client.call<DescribeGroupsResponse>(ApiKey.DescribeGroups, { groups: [groupId] });
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

  close(): Promise<void> {
    return this.#client.close();
  }
}

function describeTopic(t: MetadataResponse['topics'][number]): TopicDescription {
  return { name: t.name, internal: t.internal === true, partitions: t.partitions };
}

/**
 * Sluice's assignment format (a MessagePack map), or a Kafka client's (consumer protocol, which
 * starts with its int16 version, so a zero byte); anything else is shown as no partitions.
 */
function safeAssignment(bytes: Uint8Array): Array<{ topic: string; partition: number }> {
  try {
    if (bytes[0] === 0) return decodeConsumerAssignment(bytes);
    return [...decodeAssignment(bytes)].flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
  } catch {
    return [];
  }
}
