// ListOffsets: earliest (-2), latest (-1), or the first record at or after a time; and
// OffsetForLeaderEpoch, the offsets of leader epochs.

import { decodeListOffsetsRequest, decodeOffsetForLeaderEpochRequest, errorBody, type ListOffsetsResponse, type OffsetForLeaderEpochResponse } from '../../../protocol/messages.js';
import { listOffsets, offsetForLeaderEpoch } from '../../../broker/data.js';
import type { Handler } from './handler.js';

export const handleListOffsets: Handler = async (ctx, { body }) => {
  const request = decodeListOffsetsRequest(body);
  const outcomes = await listOffsets(ctx, request.partitions);
  const partitions: ListOffsetsResponse['partitions'] = outcomes.map((o) =>
    o.error ? { topic: o.topic, partition: o.partition, error: errorBody(o.error) } : { topic: o.topic, partition: o.partition, offset: o.offset ?? null },
  );
  return { body: { partitions } satisfies ListOffsetsResponse };
};

/** OffsetForLeaderEpoch: where a leader epoch ended in this leader's log (a returning follower truncates there). */
export const handleOffsetForLeaderEpoch: Handler = async (ctx, { body }) => {
  const request = decodeOffsetForLeaderEpochRequest(body);
  const outcomes = await offsetForLeaderEpoch(ctx, request.partitions, request.replicaId);
  const partitions: OffsetForLeaderEpochResponse['partitions'] = outcomes.map((o) => ({
    topic: o.topic,
    partition: o.partition,
    leaderEpoch: o.leaderEpoch,
    endOffset: o.endOffset,
    ...(o.error ? { error: errorBody(o.error) } : {}),
  }));
  return { body: { partitions } satisfies OffsetForLeaderEpochResponse };
};
