// Kafka ApiVersions, CreateTopics, DeleteTopics and SASL (PLAIN: the principal's name as the user,
// its token as the password) over the same registry and auth file as Sluice's own handlers.

import { ERRORS, SluiceError } from '../../../errors.js';
import { authenticate } from '../../../broker/authenticate.js';
import { adminDenied } from '../../../broker/authorize.js';
import { createTopics as createTopicsOf, deleteTopics as deleteTopicsOf } from '../../../broker/topics.js';
import { KAFKA_API_VERSIONS, kafkaErrorCode } from '../apis.js';
import {
  decodeCreateTopics,
  decodeDeleteTopics,
  decodeSaslAuthenticate,
  decodeSaslHandshake,
  decodeApiVersions,
  decodeDescribeCluster,
  encodeDescribeCluster,
  encodeApiVersions,
  validClientSoftware,
  encodeCreateTopics,
  encodeDeleteTopics,
  encodeSaslAuthenticate,
  encodeSaslHandshake,
  parseSaslPlain,
} from '../messages/admin.js';
import { body, kafkaHandler } from './handler.js';

const SASL_MECHANISMS = ['PLAIN'] as const;

export const apiVersions = kafkaHandler(decodeApiVersions, (_ctx, request, header) => {
  // KIP-511: a client whose software name or version is not well formed is refused, with no table.
  if (request.clientSoftware && !validClientSoftware(request.clientSoftware)) {
    return { ...body((w) => encodeApiVersions(w, header.apiVersion, ERRORS.INVALID_REQUEST.kafka, [])), outcome: 'INVALID_REQUEST' };
  }
  return body((w) => encodeApiVersions(w, header.apiVersion, 0, KAFKA_API_VERSIONS));
});

export const createTopics = kafkaHandler(decodeCreateTopics, async (ctx, request, header) => {
  const topics = request.topics.map((t) => ({ name: t.name, partitions: t.partitions, config: t.configs, replicationFactor: t.replicationFactor, replicaAssignments: t.assignments.length }));
  const outcomes = await createTopicsOf(ctx, topics, request.validateOnly);
  return body((w) => encodeCreateTopics(w, header.apiVersion, outcomes.map((o) => ({ name: o.name, errorCode: kafkaErrorCode(o.error), message: o.error?.message ?? null }))));
});

export const deleteTopics = kafkaHandler(decodeDeleteTopics, async (ctx, request, header) => {
  const outcomes = await deleteTopicsOf(ctx, request.names);
  return body((w) => encodeDeleteTopics(w, header.apiVersion, outcomes.map((o) => ({ name: o.name, errorCode: kafkaErrorCode(o.error), message: null }))));
});

export const saslHandshake = kafkaHandler(decodeSaslHandshake, (ctx, request) => {
  let errorCode = 0;
  if (!ctx.access) errorCode = ERRORS.ILLEGAL_SASL_STATE.kafka;
  else if (!(SASL_MECHANISMS as readonly string[]).includes(request.mechanism)) errorCode = ERRORS.UNSUPPORTED_SASL_MECHANISM.kafka;
  return body((w) => encodeSaslHandshake(w, errorCode, ctx.access ? SASL_MECHANISMS : []));
});

export const saslAuthenticate = kafkaHandler(decodeSaslAuthenticate, (ctx, request, header) => {
  let error: SluiceError | undefined;
  try {
    authenticate(
      ctx,
      () => {
        const plain = parseSaslPlain(request.authBytes);
        if (!plain) throw new SluiceError('SASL_AUTHENTICATION_FAILED', 'expected SASL PLAIN bytes: authzid NUL user NUL password');
        return { token: plain.password, user: plain.username, authzid: plain.authzid };
      },
      'kafka',
    );
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    error = err;
  }
  return body((w) => encodeSaslAuthenticate(w, header.apiVersion, { errorCode: kafkaErrorCode(error), message: error?.message ?? null }));
});

/** Kafka's AclOperation codes for what can be done to a cluster. */
const ACL = { ALTER: 7, CREATE: 5, DESCRIBE: 8, DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11 } as const;

export const describeCluster = kafkaHandler(decodeDescribeCluster, (ctx, request) => {
  const { nodeId, host, port, clusterId } = ctx.broker;
  // Asked for, the principal's operations on the cluster: an admin creates, alters and describes
  // (topics and their configs); anyone else may describe it.
  const ops = adminDenied(ctx) ? [ACL.DESCRIBE] : [ACL.CREATE, ACL.ALTER, ACL.DESCRIBE, ACL.DESCRIBE_CONFIGS, ACL.ALTER_CONFIGS];
  const authorizedOperations = request.includeClusterAuthorizedOperations ? ops.reduce((bits, op) => bits | (1 << op), 0) : -0x8000_0000;
  return body((w) => encodeDescribeCluster(w, { clusterId, controllerId: nodeId, brokers: [{ nodeId, host, port }], authorizedOperations }));
});
