// ListOffsets: earliest (-2), latest (-1), or the first batch at or after a time.

import { decodeListOffsetsRequest, errorBody, type ListOffsetsResponse } from '../protocol/messages.js';
import type { Handler } from './context.js';

export const handleListOffsets: Handler = (ctx, { body }) => {
  const request = decodeListOffsetsRequest(body);
  const partitions: ListOffsetsResponse['partitions'] = ctx.log.listOffsets(request.partitions).map((o) =>
    o.error ? { topic: o.topic, partition: o.partition, error: errorBody(o.error) } : { topic: o.topic, partition: o.partition, offset: o.offset ?? null },
  );
  return { body: { partitions } satisfies ListOffsetsResponse };
};
