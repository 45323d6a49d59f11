// Kafka ApiVersions v0-4 (v3+ flexible, and the error answer to versions above), DescribeCluster v0
// (flexible), SaslHandshake v1 and SaslAuthenticate v0-1: request decoders and response encoders, as in
// Kafka's message definitions (Kafka 3.4). No I/O.

import type { KafkaVersionRange } from '../apis.js';
import { KafkaReader, KafkaWriter } from '../../../protocol/kafka-wire.js';

/** What a client says of itself in ApiVersions v3+ (KIP-511); null before v3. */
export interface KafkaApiVersionsRequest {
  clientSoftware: { name: string; version: string } | null;
}

/** KIP-511: the client's software name and version, as Kafka's broker checks them. */
const SOFTWARE = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/** v0-2 have an empty body; v3+ (flexible) name the client's software. */
export function decodeApiVersions(r: KafkaReader, version: number): KafkaApiVersionsRequest {
  if (version < 3) {
    r.end('ApiVersions');
    return { clientSoftware: null };
  }
  const clientSoftware = { name: r.compactString('client_software_name'), version: r.compactString('client_software_version') };
  r.taggedFields();
  r.end('ApiVersions');
  return { clientSoftware };
}

/** Whether the software name and version are what KIP-511 allows (else INVALID_REQUEST). */
export function validClientSoftware(s: { name: string; version: string }): boolean {
  return SOFTWARE.test(s.name) && SOFTWARE.test(s.version);
}

/**
 * ApiVersions at `version` (v3+: compact array, tagged fields). An unsupported version is answered
 * in a v0 body (as Kafka does, KIP-511) with error 35 and only ApiVersions' own range, so the
 * client can retry at a version it shares with us.
 */
export function encodeApiVersions(w: KafkaWriter, version: number, errorCode: number, apis: readonly KafkaVersionRange[]): void {
  w.int16(errorCode);
  if (version >= 3) {
    w.compactArray(apis, (w, a) => w.int16(a.apiKey).int16(a.minVersion).int16(a.maxVersion).noTaggedFields());
    w.int32(0).noTaggedFields(); // throttle_time_ms; no supported or finalized features to tag
    return;
  }
  w.array(apis, (w, a) => w.int16(a.apiKey).int16(a.minVersion).int16(a.maxVersion));
  if (version >= 1) w.int32(0); // throttle_time_ms (v1+: last)
}

export function decodeSaslHandshake(r: KafkaReader): { mechanism: string } {
  const request = { mechanism: r.string('mechanism') };
  r.end('SaslHandshake');
  return request;
}

export function encodeSaslHandshake(w: KafkaWriter, errorCode: number, mechanisms: readonly string[]): void {
  w.int16(errorCode).array(mechanisms, (w, m) => w.string(m));
}

export function decodeSaslAuthenticate(r: KafkaReader): { authBytes: Buffer } {
  const request = { authBytes: r.bytes('auth_bytes') };
  r.end('SaslAuthenticate');
  return request;
}

export function encodeSaslAuthenticate(w: KafkaWriter, version: number, a: { errorCode: number; message: string | null }): void {
  w.int16(a.errorCode).string(a.message).bytes(Buffer.alloc(0));
  if (version >= 1) w.int64(0n); // session_lifetime_ms: sessions do not expire
}

/** SASL PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`. Null when the bytes are not that. */
export function parseSaslPlain(bytes: Buffer): { authzid: string; username: string; password: string } | null {
  const parts = bytes.toString('utf8').split('\u0000');
  if (parts.length !== 3 || parts[1] === '' || parts[2] === '') return null;
  return { authzid: parts[0]!, username: parts[1]!, password: parts[2]! };
}

// ---- DescribeCluster (60) v0, flexible

export function decodeDescribeCluster(r: KafkaReader): { includeClusterAuthorizedOperations: boolean } {
  const request = { includeClusterAuthorizedOperations: r.boolean('include_cluster_authorized_operations') };
  r.taggedFields();
  r.end('DescribeCluster');
  return request;
}

export interface KafkaDescribedCluster {
  clusterId: string;
  controllerId: number;
  brokers: ReadonlyArray<{ nodeId: number; host: string; port: number; rack: string | null }>;
  /** A bitfield of Kafka's AclOperation codes; INT32_MIN when not asked for. */
  authorizedOperations: number;
}

export function encodeDescribeCluster(w: KafkaWriter, c: KafkaDescribedCluster): void {
  w.int32(0).int16(0).compactString(null); // throttle_time_ms, error_code, error_message
  w.compactString(c.clusterId).int32(c.controllerId);
  w.compactArray(c.brokers, (w, b) => w.int32(b.nodeId).compactString(b.host).int32(b.port).compactString(b.rack).noTaggedFields());
  w.int32(c.authorizedOperations).noTaggedFields();
}
