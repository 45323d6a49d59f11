// Fetch: the domain slices (and long-polls); the response is a small MessagePack body naming each
// partition's byte count, followed by the slices themselves, which the transfer engine sends from
// the page cache.
//
// Shared responses: the fetches one append wakes on a partition (tailing consumers at the same
// offset) get the same slice object from the partition, and a one-partition body is a function of
// that slice alone, so it is packed once per slice and reused; only the correlation id differs.

import { PackedBody } from '../../../protocol/codec.js';
import { decodeFetchRequest, errorBody, type FetchResponse } from '../../../protocol/messages.js';
import { bodiesBySlice, fetch, type FetchOutcome, type LogSlice } from '../../../broker/data.js';
import type { Handler } from './handler.js';

export const handleFetch: Handler = async (ctx, { body }) => {
  const request = decodeFetchRequest(body);
  const { outcomes, waitedSeconds } = await fetch(ctx, request.partitions, { maxWaitMs: request.maxWaitMs, minBytes: request.minBytes, maxBytes: request.maxBytes, replicaId: request.replicaId, clientRack: request.rackId });
  const only = outcomes.length === 1 ? outcomes[0]! : undefined;
  if (only?.slice && !only.error) return { body: sharedBody(only as FetchOutcome & { slice: LogSlice }), data: [only.slice], waitedSeconds };
  const data: LogSlice[] = [];
  const partitions: FetchResponse['partitions'] = outcomes.map((o) => {
    let bytes = 0;
    if (o.slice) {
      data.push(o.slice);
      bytes = o.slice.bytes;
    }
    const out: FetchResponse['partitions'][number] = {
      topic: o.topic,
      partition: o.partition,
      highWatermark: o.highWatermark,
      logStartOffset: o.logStartOffset,
      bytes,
    };
    if (o.error) out.error = errorBody(o.error);
    if (o.preferredReadReplica !== undefined) out.preferredReadReplica = o.preferredReadReplica;
    return out;
  });
  return { body: { partitions } satisfies FetchResponse, data, waitedSeconds };
};

/** One partition's data response, packed once per slice (Sluice's protocol has one version of it). */
const packedBySlice = bodiesBySlice<PackedBody>();

function sharedBody(o: FetchOutcome & { slice: LogSlice }): PackedBody {
  return packedBySlice(o.slice, 0, () => new PackedBody({ partitions: [{ topic: o.topic, partition: o.partition, highWatermark: o.highWatermark, logStartOffset: o.logStartOffset, bytes: o.slice.bytes }] } satisfies FetchResponse));
}
