// Kafka's protocol on a connection of the Kafka listener: frames (./frame.ts), request header v1
// (v2 with tagged fields for flexible versions), the version table, SASL before anything else when authentication is
// on, the handler table, and responses as `size | correlation_id | body` (response header v0),
// fetched records as log slices inside the body.
//
// Bad input, as Kafka's broker treats it: framing it cannot trust, an unknown API or version, a
// body that does not parse, or a request before SASL authentication closes the connection with a
// logged reason (a Kafka client cannot read an error in a layout it did not ask for). ApiVersions
// is the exception: any version is answered, an unsupported one with error 35 in a v0 body, and
// the connection stays open (librdkafka opens with v3 and then retries lower). Requests that parse
// but name bad things (unknown topics, bad CRCs, stale generations) get Kafka's error codes in
// their responses.

import { ERRORS } from '../../errors.js';
import type { BrokerSession } from '../../broker/session.js';
import type { Exchange, Refusal, Reply, ResponsePiece, WireProtocol } from '../door.js';
import { isFlexible, KafkaApi, kafkaApiByKey, KAFKA_API_VERSIONS } from './apis.js';
import { KafkaFrameDecoder, responsePrefix } from './frame.js';
import type { KafkaReply } from './handlers/handler.js';
import { KAFKA_HANDLERS } from './handlers/index.js';
import { encodeApiVersions } from './messages/admin.js';
import { KafkaDecodeError, KafkaReader, KafkaWriter } from '../../protocol/kafka-wire.js';
import type { RequestHeader } from '../../vocabulary.js';

const BEFORE_AUTHENTICATION: ReadonlySet<number> = new Set([KafkaApi.ApiVersions, KafkaApi.SaslHandshake, KafkaApi.SaslAuthenticate]);
const API_VERSIONS_RANGE = KAFKA_API_VERSIONS.filter((a) => a.apiKey === KafkaApi.ApiVersions);

export class KafkaProtocol implements WireProtocol<Buffer> {
  readonly #ctx: BrokerSession;
  readonly #decoder: KafkaFrameDecoder;

  constructor(ctx: BrokerSession, maxFrameBytes: number) {
    this.#ctx = ctx;
    this.#decoder = new KafkaFrameDecoder(maxFrameBytes);
  }

  get bufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  push(chunk: Buffer): Buffer[] {
    return this.#decoder.push(chunk);
  }

  dispatch(frame: Buffer): Exchange | Refusal {
    const r = new KafkaReader(frame);
    let header: RequestHeader;
    try {
      header = { apiKey: r.int16('api_key'), apiVersion: r.int16('api_version'), correlationId: r.int32('correlation_id'), clientId: r.nullableString('client_id') };
    } catch (err) {
      return { close: 'kafka-header', detail: (err as Error).message };
    }
    const api = kafkaApiByKey(header.apiKey);
    const apiName = `kafka.${api?.name ?? `unknown(${header.apiKey})`}`;
    if (!api) return { close: 'kafka-api', detail: `unknown Kafka API key ${header.apiKey}` };
    // Header v2: the request header's tagged fields (none is known to a broker; KIP-482 says skip them).
    if (header.apiVersion <= api.maxVersion && isFlexible(api, header.apiVersion)) {
      try {
        r.taggedFields('request header tagged fields');
      } catch (err) {
        return { close: 'kafka-header', detail: (err as Error).message };
      }
    }
    if (header.apiVersion < api.minVersion || header.apiVersion > api.maxVersion) {
      if (header.apiKey === KafkaApi.ApiVersions) {
        const w = new KafkaWriter();
        encodeApiVersions(w, 0, ERRORS.UNSUPPORTED_VERSION.kafka, API_VERSIONS_RANGE);
        // librdkafka opens with a version we do not have and retries with ours: a negotiation, not a failed request.
        return { apiName, reply: Promise.resolve(this.#reply(header, false, { body: w, outcome: 'ok' })) };
      }
      return { close: 'kafka-version', detail: `${api.name} v${header.apiVersion} is not supported (versions ${api.minVersion}-${api.maxVersion})` };
    }
    if (this.#ctx.session.principal === null && !BEFORE_AUTHENTICATION.has(header.apiKey)) {
      return { close: 'kafka-sasl', detail: `${api.name} before SASL authentication` };
    }
    // Flexible responses carry header v1, but ApiVersions' header is v0 at every version (KIP-511).
    const headerV1 = header.apiKey !== KafkaApi.ApiVersions && isFlexible(api, header.apiVersion);
    const handler = KAFKA_HANDLERS.get(header.apiKey)!;
    let request: unknown;
    try {
      request = handler.decode(r, header.apiVersion);
    } catch (err) {
      // Anything else thrown by a decoder is a bug in it; it costs this connection, not the broker.
      if (!(err instanceof KafkaDecodeError)) this.#ctx.logger.error({ err, api: api.name }, 'Kafka decoder failed unexpectedly');
      return { close: 'kafka-request', detail: `${api.name} v${header.apiVersion}: ${(err as Error).message}` };
    }
    const reply = (async () => handler.handle(this.#ctx, request, header))().then(
      (result) => this.#reply(header, headerV1, result),
      (err: unknown): Reply => {
        this.#ctx.logger.error({ err, api: api.name, correlationId: header.correlationId }, 'Kafka handler failed unexpectedly');
        return { noResponse: true, closeReason: `${api.name} failed: ${err instanceof Error ? err.message : String(err)}` };
      },
    );
    return { apiName, reply };
  }

  /** `headerV1`: a flexible response's header (tagged fields after the correlation id). */
  #reply(header: RequestHeader, headerV1: boolean, result: KafkaReply): Reply {
    if ('noResponse' in result) return result;
    // The only pieces the codec counts without holding are the log slices this door's handlers wrote.
    const pieces = result.body.pieces() as ResponsePiece[];
    return { pieces: [responsePrefix(header.correlationId, result.body.length, headerV1), ...pieces], outcome: result.outcome ?? 'ok', ...(result.waitedSeconds ? { waitedSeconds: result.waitedSeconds } : {}) };
  }
}
