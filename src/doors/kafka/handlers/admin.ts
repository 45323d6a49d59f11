// Kafka ApiVersions, DescribeCluster and SASL (PLAIN: the principal's name as the user,
// its token as the password) over the same registry and auth file as Sluice's own handlers.

import { ERRORS, SluiceError } from '../../../errors.js';
import { authenticate, authenticationEnabled } from '../../../broker/authenticate.js';
import { clusterView } from '../../../broker/metadata.js';
import { KAFKA_API_VERSIONS, kafkaErrorCode } from '../apis.js';
import {
  decodeSaslAuthenticate,
  decodeSaslHandshake,
  decodeApiVersions,
  decodeDescribeCluster,
  encodeDescribeCluster,
  encodeApiVersions,
  validClientSoftware,
  encodeSaslAuthenticate,
  encodeSaslHandshake,
  parseSaslPlain,
} from '../messages/admin.js';
import { OPERATIONS_NOT_ASKED } from '../messages/topics.js';
import { body, kafkaHandler } from './handler.js';
import { clusterOperations } from './operations.js';
import { kafkaBrokers } from './topics.js';

const SASL_MECHANISMS = ['PLAIN'] as const;

export const apiVersions = kafkaHandler(decodeApiVersions, (_ctx, request, header) => {
  // KIP-511: a client whose software name or version is not well formed is refused, with no table.
  if (request.clientSoftware && !validClientSoftware(request.clientSoftware)) {
    return { ...body((w) => encodeApiVersions(w, header.apiVersion, ERRORS.INVALID_REQUEST.kafka, [])), outcome: 'INVALID_REQUEST' };
  }
  return body((w) => encodeApiVersions(w, header.apiVersion, 0, KAFKA_API_VERSIONS));
});

export const saslHandshake = kafkaHandler(decodeSaslHandshake, (ctx, request) => {
  let errorCode = 0;
  if (!authenticationEnabled(ctx)) errorCode = ERRORS.ILLEGAL_SASL_STATE.kafka;
  else if (!(SASL_MECHANISMS as readonly string[]).includes(request.mechanism)) errorCode = ERRORS.UNSUPPORTED_SASL_MECHANISM.kafka;
  return body((w) => encodeSaslHandshake(w, errorCode, authenticationEnabled(ctx) ? SASL_MECHANISMS : []));
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

export const describeCluster = kafkaHandler(decodeDescribeCluster, (ctx, request) => {
  const authorizedOperations = request.includeClusterAuthorizedOperations ? clusterOperations(ctx) : OPERATIONS_NOT_ASKED;
  return body((w) => encodeDescribeCluster(w, { clusterId: ctx.broker.clusterId, controllerId: clusterView(ctx).controllerId, brokers: kafkaBrokers(ctx), authorizedOperations }));
});
