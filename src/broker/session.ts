// A client's session with the broker, as every door's handlers see it: the domain services, the
// broker's identity, who the client is, and the connection's abort signal (fires when the client
// goes away, so a parked fetch stops waiting). The broker API (this directory) takes it first.

import type { Logger } from 'pino';
import type { AccessControl, Session } from '../auth/access.js';
import type { GroupService } from '../group/coordinator.js';
import type { OffsetsTopicSettings } from '../group/offsets-topic.js';
import type { LogService } from '../log/log-service.js';
import type { LogSubscription } from '../log/subscription.js';
import type { TopicRegistry } from '../log/topic-registry.js';
import type { Placement } from '../log/placement.js';
import type { ResponsePiece } from '../transfer/response-writer.js';

export interface BrokerIdentity {
  nodeId: number;
  clusterId: string;
  /** The address clients should use (the listener's, with the port actually bound). */
  host: string;
  port: number;
  version: string;
}

export interface BrokerSession {
  readonly log: LogService;
  readonly topics: TopicRegistry;
  /** One coordinator for every group alone; in a cluster, those of the __consumer_offsets partitions led here. */
  readonly groups: GroupService;
  /** How a cluster creates __consumer_offsets (a single broker keeps its own one-partition topic). */
  readonly offsetsTopic: OffsetsTopicSettings;
  readonly broker: BrokerIdentity;
  /** Where partitions live: this broker alone, or the cluster's view. */
  readonly placement: Placement;
  readonly autoCreateTopics: boolean;
  readonly logger: Logger;
  /** The client's address, as the group coordinator reports members. */
  readonly clientHost: string;
  readonly signal: AbortSignal;
  /** Who this connection is (authentication sets the principal). */
  readonly session: Session;
  /** The auth file's principals; null when authentication is off. */
  readonly access: AccessControl | null;
  /** Unsolicited frames on this connection (push subscriptions). */
  readonly pushes: PushChannel;
}

/** A connection's push subscriptions and the way their frames reach its socket. */
export interface PushChannel {
  /** Queues a frame behind everything queued before it (never inside a response); resolves once written. */
  send(pieces: readonly ResponsePiece[]): Promise<number>;
  /** Open subscriptions by id; the connection cancels them when it closes. */
  readonly subscriptions: Map<number, LogSubscription>;
  /** The id for the next subscription (rising from 1). */
  nextId(): number;
}
