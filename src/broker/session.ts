// What every handler gets: the domain services, the broker's identity, and the connection's abort
// signal (fires when the client goes away, so a parked fetch stops waiting). And what it returns.

import type { Logger } from 'pino';
import type { AccessControl, Session } from '../auth/access.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import type { LogService } from '../log/log-service.js';
import type { LogSubscription } from '../log/subscription.js';
import type { TopicRegistry } from '../log/topic-registry.js';
import type { RequestHeader } from '../protocol/codec.js';
import type { LogSlice } from '../storage/partition-log.js';
import type { ResponsePiece } from '../transfer/response-writer.js';

export interface BrokerIdentity {
  nodeId: number;
  clusterId: string;
  /** The address clients should use (the listener's, with the port actually bound). */
  host: string;
  port: number;
  version: string;
}

export interface HandlerContext {
  readonly log: LogService;
  readonly topics: TopicRegistry;
  readonly groups: GroupCoordinator;
  readonly broker: BrokerIdentity;
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

export interface Request {
  header: RequestHeader;
  body: unknown;
  /** Raw bytes after the meta (record batches for produce). */
  data: Buffer;
}

export type HandlerResult =
  /** A response: its MessagePack body and the record batches that follow it; `afterResponse` runs once the response is queued on the socket (a subscription's pushes must follow it); `waitedSeconds`: how long it was parked (long poll), kept out of its processing time. */
  | { body: unknown; data?: readonly LogSlice[]; afterResponse?: () => void; waitedSeconds?: number }
  /** No response (acks=0); `closeReason` closes the connection so the client learns of a failure. */
  | { noResponse: true; closeReason?: string };

export type Handler = (ctx: HandlerContext, request: Request) => HandlerResult | Promise<HandlerResult>;
