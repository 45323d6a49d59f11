// Kafka ApiVersions, CreateTopics, DeleteTopics and SASL (PLAIN: the principal's name as the user,
// its token as the password) over the same registry and auth file as Sluice's own handlers.

import { SluiceError } from '../../../errors.js';
import { topicConfigFrom } from '../../../log/topic-configs.js';
import type { TopicResult } from '../../../protocol/messages.js';
import { perTopic } from '../../sluice/handlers/topics-admin.js';
import { KAFKA_API_VERSIONS, KAFKA_ERROR_CODES, kafkaErrorCode } from '../apis.js';
import {
  decodeCreateTopics,
  decodeDeleteTopics,
  decodeSaslAuthenticate,
  decodeSaslHandshake,
  encodeApiVersions,
  encodeCreateTopics,
  encodeDeleteTopics,
  encodeSaslAuthenticate,
  encodeSaslHandshake,
  parseSaslPlain,
  type KafkaCreateTopicsRequest,
} from '../messages/admin.js';
import type { KafkaReader } from '../wire.js';
import { body, kafkaHandler } from './handler.js';

const SASL_MECHANISMS = ['PLAIN'] as const;

export const apiVersions = kafkaHandler(
  (r: KafkaReader) => r.end('ApiVersions'),
  (_ctx, _r, header) => body((w) => encodeApiVersions(w, header.apiVersion, 0, KAFKA_API_VERSIONS)),
);

export const createTopics = kafkaHandler(decodeCreateTopics, async (ctx, request, header) => {
  const results: TopicResult[] = [];
  for (const t of request.topics) {
    results.push(
      await perTopic(ctx, t.name, async () => {
        // One broker: one replica, and no placement to choose.
        if (t.replicationFactor !== -1 && t.replicationFactor !== 1) throw new SluiceError('INVALID_REQUEST', `replication factor ${t.replicationFactor}: this broker keeps one replica`);
        if (t.assignments.length > 0) throw new SluiceError('INVALID_REQUEST', 'manual replica assignments are not supported by a single broker');
        const config = topicConfigFrom(t.configs);
        if (request.validateOnly) ctx.topics.validateCreate(t.name, t.partitions, config);
        else await ctx.topics.create(t.name, t.partitions, config);
      }),
    );
  }
  return body((w) => encodeCreateTopics(w, header.apiVersion, results.map((r) => ({ name: r.name, errorCode: kafkaErrorCode(r.error), message: r.error?.message ?? null }))));
});

export const deleteTopics = kafkaHandler(decodeDeleteTopics, async (ctx, request, header) => {
  const results: TopicResult[] = [];
  for (const name of request.names) results.push(await perTopic(ctx, name, () => ctx.topics.delete(name)));
  return body((w) => encodeDeleteTopics(w, header.apiVersion, results.map((r) => ({ name: r.name, errorCode: kafkaErrorCode(r.error), message: null }))));
});

export const saslHandshake = kafkaHandler(decodeSaslHandshake, (ctx, request) => {
  let errorCode = 0;
  if (!ctx.access) errorCode = KAFKA_ERROR_CODES.ILLEGAL_SASL_STATE;
  else if (!(SASL_MECHANISMS as readonly string[]).includes(request.mechanism)) errorCode = KAFKA_ERROR_CODES.UNSUPPORTED_SASL_MECHANISM;
  return body((w) => encodeSaslHandshake(w, errorCode, ctx.access ? SASL_MECHANISMS : []));
});

export const saslAuthenticate = kafkaHandler(decodeSaslAuthenticate, (ctx, request, header) => {
  let error: SluiceError | undefined;
  try {
    if (!ctx.access) throw new SluiceError('ILLEGAL_SASL_STATE', 'authentication is off on this broker (no --auth-file)');
    if (ctx.session.principal) throw new SluiceError('ILLEGAL_SASL_STATE', `this connection is already authenticated as ${ctx.session.principal.name}`);
    const plain = parseSaslPlain(request.authBytes);
    if (!plain) throw new SluiceError('SASL_AUTHENTICATION_FAILED', 'expected SASL PLAIN bytes: authzid NUL user NUL password');
    const principal = ctx.access.authenticate(plain.password);
    if (principal.name !== plain.username || (plain.authzid !== '' && plain.authzid !== plain.username)) {
      throw new SluiceError('SASL_AUTHENTICATION_FAILED', 'authentication failed: the token is not this user\'s');
    }
    ctx.session.principal = principal;
    ctx.logger.info({ principal: principal.name, listener: 'kafka' }, 'authenticated');
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    error = err;
  }
  return body((w) => encodeSaslAuthenticate(w, header.apiVersion, { errorCode: kafkaErrorCode(error), message: error?.message ?? null }));
});
