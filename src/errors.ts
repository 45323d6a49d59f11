// The one error table: every error Sluice reports has a stable `code` (Kafka's name where Kafka
// has one), Kafka's number for it (what the Kafka door puts on the wire; Kafka's own number where
// one exists, -1 "unknown server error" for Sluice-internal conditions a Kafka client can only see
// as a failure), whether retrying can help, and a default message. `SluiceError` carries the code.

export interface ErrorInfo {
  readonly kafka: number;
  readonly retriable: boolean;
  readonly message: string;
}

export const ERRORS = {
  // Requests and topics
  INVALID_REQUEST: { kafka: 42, retriable: false, message: 'the request is malformed (a field is missing, of the wrong type or out of range)' },
  UNSUPPORTED_VERSION: { kafka: 35, retriable: false, message: 'the broker does not support this API or version' },
  UNKNOWN_TOPIC_OR_PARTITION: { kafka: 3, retriable: true, message: 'this topic or partition does not exist' },
  TOPIC_ALREADY_EXISTS: { kafka: 36, retriable: false, message: 'a topic with this name already exists' },
  INVALID_TOPIC_EXCEPTION: { kafka: 17, retriable: false, message: 'the topic name is not valid' },
  INVALID_PARTITIONS: { kafka: 37, retriable: false, message: 'the number of partitions is not valid' },
  UNKNOWN_TOPIC_ID: { kafka: 100, retriable: true, message: 'no topic has this id (it was deleted, or never existed)' },
  INVALID_REQUIRED_ACKS: { kafka: 21, retriable: false, message: 'acks must be 0, 1 or -1 (all)' },
  // Consumer groups
  INVALID_GROUP_ID: { kafka: 24, retriable: false, message: 'the group id is empty or too long' },
  GROUP_ID_NOT_FOUND: { kafka: 69, retriable: false, message: 'the group does not exist' },
  NON_EMPTY_GROUP: { kafka: 68, retriable: false, message: 'the group has members: stop them first' },
  GROUP_SUBSCRIBED_TO_TOPIC: { kafka: 86, retriable: false, message: 'the group has members subscribed to the topic' },
  NOT_COORDINATOR: { kafka: 16, retriable: true, message: 'this broker is not the coordinator of the group' },
  COORDINATOR_NOT_AVAILABLE: { kafka: 15, retriable: true, message: 'the group coordinator is starting or stopping' },
  UNKNOWN_MEMBER_ID: { kafka: 25, retriable: false, message: 'the group does not know this member (it left, or its session expired): join again' },
  ILLEGAL_GENERATION: { kafka: 22, retriable: false, message: 'the generation is not the group\'s current one: a rebalance happened; join again' },
  REBALANCE_IN_PROGRESS: { kafka: 27, retriable: false, message: 'the group is rebalancing: join again' },
  INCONSISTENT_GROUP_PROTOCOL: { kafka: 23, retriable: false, message: 'the member\'s protocol type or assignment strategies match none of the group\'s' },
  INVALID_SESSION_TIMEOUT: { kafka: 26, retriable: false, message: 'the session timeout is outside the broker\'s allowed range' },
  MEMBER_ID_REQUIRED: { kafka: 79, retriable: false, message: 'join again with the member id this answer carries (KIP-394)' },
  FENCED_INSTANCE_ID: { kafka: 82, retriable: false, message: 'another member now holds this group instance id (a newer process with the same group.instance.id joined)' },
  // Record batches and storage
  CORRUPT_MESSAGE: { kafka: 2, retriable: false, message: 'a record batch failed validation (bounds, magic, CRC)' },
  INVALID_RECORD: { kafka: 87, retriable: false, message: 'a record batch is well formed but not acceptable' },
  MESSAGE_TOO_LARGE: { kafka: 10, retriable: false, message: 'a record batch is larger than the configured maximum' },
  OFFSET_OUT_OF_RANGE: { kafka: 1, retriable: false, message: 'the offset is outside [logStartOffset, highWatermark]' },
  OFFSET_OUT_OF_SEQUENCE: { kafka: -1, retriable: false, message: 'a replica append does not start at the log end, or its batches do not follow each other' },
  KAFKA_STORAGE_ERROR: { kafka: 56, retriable: true, message: 'the disk failed the operation (full, I/O error)' },
  INVALID_CONFIG: { kafka: 40, retriable: false, message: 'a configuration value is out of range' },
  INVALID_ARGUMENT: { kafka: 42, retriable: false, message: 'an argument is out of range' },
  UNSUPPORTED_COMPRESSION_TYPE: { kafka: 76, retriable: false, message: 'the batch uses a compression this codec does not decode' },
  FETCH_SESSION_ID_NOT_FOUND: { kafka: 70, retriable: true, message: 'the fetch session is not known (this broker declines sessions: fetch with session id 0)' },
  NETWORK_EXCEPTION: { kafka: 13, retriable: true, message: 'the connection failed or was closed mid-transfer' },
  TRANSFER_CANCELLED: { kafka: 13, retriable: true, message: 'the transfer was cancelled (connection unregistered or engine closed)' },
  UNKNOWN_CONNECTION: { kafka: -1, retriable: false, message: 'the transfer engine does not know the connection' },
  LOG_CLOSED: { kafka: 3, retriable: false, message: 'the log is closed' },
  DATA_DIR_LOCKED: { kafka: -1, retriable: false, message: 'another process holds the data directory' },
  // Cluster mode: the coordination store (etcd)
  CLUSTER_STORE_UNAVAILABLE: { kafka: -1, retriable: true, message: 'the cluster store (etcd) did not answer in time or could not be reached; a write that failed this way may or may not have happened' },
  // Replication (cluster mode)
  NOT_LEADER_OR_FOLLOWER: { kafka: 6, retriable: true, message: 'this broker does not lead the partition (nor follow it): refresh metadata and ask its leader' },
  LEADER_NOT_AVAILABLE: { kafka: 5, retriable: true, message: 'the partition has no leader right now (an election is under way, or no in-sync replica is alive)' },
  NOT_ENOUGH_REPLICAS: { kafka: 19, retriable: true, message: 'fewer in-sync replicas than min.insync.replicas: the batch was not written' },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { kafka: 20, retriable: true, message: 'the batch was written, but the in-sync replicas fell below min.insync.replicas before they all held it' },
  FENCED_LEADER_EPOCH: { kafka: 74, retriable: true, message: 'the request carries an older leader epoch than the partition\'s current one' },
  UNKNOWN_LEADER_EPOCH: { kafka: 75, retriable: true, message: 'the request carries a newer leader epoch than this broker knows yet' },
  REQUEST_TIMED_OUT: { kafka: 7, retriable: true, message: 'the request did not complete in time (the replicas did not acknowledge the batch)' },
  INVALID_REPLICATION_FACTOR: { kafka: 38, retriable: false, message: 'the replication factor is not valid (at least 1, at most the number of live brokers)' },
  BROKER_NOT_AVAILABLE: { kafka: 8, retriable: true, message: 'the broker is not available' },
  // Idempotent producers
  OUT_OF_ORDER_SEQUENCE_NUMBER: { kafka: 45, retriable: false, message: 'the batch\'s sequence number does not follow the last one this producer wrote to the partition' },
  INVALID_PRODUCER_EPOCH: { kafka: 47, retriable: false, message: 'the producer\'s epoch is older than the one the partition has seen: a newer instance of this producer took over' },
  TRANSACTIONS_NOT_SUPPORTED: { kafka: 42, retriable: false, message: 'transactions are not supported (idempotent producers are)' },
  // Authentication and permissions
  SASL_AUTHENTICATION_FAILED: { kafka: 58, retriable: false, message: 'authentication failed' },
  ILLEGAL_SASL_STATE: { kafka: 34, retriable: false, message: 'authenticate first (only ApiVersions and Authenticate are allowed before), and only once' },
  UNSUPPORTED_SASL_MECHANISM: { kafka: 33, retriable: false, message: 'the broker does not support this authentication mechanism' },
  TOPIC_AUTHORIZATION_FAILED: { kafka: 29, retriable: false, message: 'the principal may not do this to the topic' },
  CLUSTER_AUTHORIZATION_FAILED: { kafka: 31, retriable: false, message: 'the principal may not do this to the cluster' },
  UNKNOWN_SERVER_ERROR: { kafka: -1, retriable: false, message: 'an unexpected error' },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof ERRORS;

/** Kafka's number for an error (0: none; -1 for a code this table does not know). */
export function kafkaErrorNumber(err: { code: string } | undefined): number {
  if (!err) return 0;
  return isErrorCode(err.code) ? ERRORS[err.code].kafka : -1;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

export class SluiceError extends Error {
  override readonly name = 'SluiceError';
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string = ERRORS[code].message, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.retriable = ERRORS[code].retriable;
  }
}

/** Node's errno codes that mean the disk, not the request, failed. */
const STORAGE_ERRNOS: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EFBIG']);

/** A filesystem error as KAFKA_STORAGE_ERROR (with `what` was being done); anything else unchanged. */
export function asStorageError(err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && STORAGE_ERRNOS.has(code)) return new SluiceError('KAFKA_STORAGE_ERROR', `${what}: ${(err as Error).message}`, { cause: err });
  return err;
}
