// ListOffsets: earliest (-2), latest (-1), or the first record at or after a time.

import { decodeListOffsetsRequest, errorBody, type ListOffsetsResponse } from '../../../protocol/messages.js';
import { listOffsets } from '../../../broker/data.js';
import type { Handler } from './handler.js';

export const handleListOffsets: Handler = async (ctx, { body }) => {
  const request = decodeListOffsetsRequest(body);
  const outcomes = await listOffsets(ctx, request.partitions);
  const partitions: ListOffsetsResponse['partitions'] = outcomes.map((o) =>
    o.error ? { topic: o.topic, partition: o.partition, error: errorBody(o.error) } : { topic: o.topic, partition: o.partition, offset: o.offset ?? null },
  );
  return { body: { partitions } satisfies ListOffsetsResponse };
};
