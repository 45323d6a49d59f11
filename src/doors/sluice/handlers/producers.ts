// InitProducerId (an idempotent producer's id and epoch) and DescribeProducers (the producers a
// partition knows), from the broker's producer API.

import { describeProducers, initProducerId } from '../../../broker/producers.js';
import { decodeDescribeProducersRequest, decodeInitProducerIdRequest, errorBody, type DescribeProducersResponse, type InitProducerIdResponse } from '../../../protocol/messages.js';
import type { Handler } from './handler.js';

export const handleInitProducerId: Handler = (ctx, { body }) => {
  decodeInitProducerIdRequest(body);
  return { body: initProducerId(ctx, null) satisfies InitProducerIdResponse };
};

export const handleDescribeProducers: Handler = async (ctx, { body }) => {
  const request = decodeDescribeProducersRequest(body);
  const partitions: DescribeProducersResponse['partitions'] = (await describeProducers(ctx, request.partitions)).map(({ topic, partition, error, producers }) =>
    error ? { topic, partition, error: errorBody(error) } : { topic, partition, producers: producers! },
  );
  return { body: { partitions } satisfies DescribeProducersResponse };
};
