// ListOffsets: earliest (-2), latest (-1), or the first batch at or after a time.

import { decodeListOffsetsRequest, errorBody, type ListOffsetsResponse } from '../../../protocol/messages.js';
import { permitted } from '../../../broker/authorize.js';
import type { Handler } from '../../../broker/session.js';

export const handleListOffsets: Handler = async (ctx, { body }) => {
  const request = decodeListOffsetsRequest(body);
  const outcomes = await permitted(ctx, 'read', request.partitions, (allowed) => ctx.log.listOffsets(allowed), (p, error) => ({ topic: p.topic, partition: p.partition, error, offset: null }));
  const partitions: ListOffsetsResponse['partitions'] = outcomes.map((o) =>
    o.error ? { topic: o.topic, partition: o.partition, error: errorBody(o.error) } : { topic: o.topic, partition: o.partition, offset: o.offset ?? null },
  );
  return { body: { partitions } satisfies ListOffsetsResponse };
};
