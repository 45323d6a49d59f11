// Produce: split the frame's data into each partition's batches, append, answer with offsets.
// acks=0 gets no response; if any partition failed the connection is closed (as Kafka does), the
// only way such a producer can learn of it.

import { produce, unacknowledgedFailure, type ProduceOutcome } from '../../../broker/data.js';
import { decodeProduceRequest, errorBody, type ProducePartitionResponse, type ProduceResponse } from '../../../protocol/messages.js';
import type { Handler } from './handler.js';

export const handleProduce: Handler = async (ctx, { body, data }) => {
  const request = decodeProduceRequest(body, data.length);
  let position = 0;
  const inputs = request.partitions.map((p) => {
    const batches = data.subarray(position, position + p.bytes);
    position += p.bytes;
    return { topic: p.topic, partition: p.partition, batches };
  });
  const outcomes = await produce(ctx, inputs, request.acks);
  if (request.acks === 0) {
    const closeReason = unacknowledgedFailure(outcomes);
    return closeReason ? { noResponse: true, closeReason } : { noResponse: true };
  }
  const response: ProduceResponse = { partitions: outcomes.map(toResponse) };
  return { body: response };
};

function toResponse(o: ProduceOutcome): ProducePartitionResponse {
  if (o.error || !o.result) return { topic: o.topic, partition: o.partition, error: errorBody(o.error!) };
  return {
    topic: o.topic,
    partition: o.partition,
    baseOffset: o.result.baseOffset,
    lastOffset: o.result.lastOffset,
    logAppendTimeMs: o.result.appendTimeMs,
    logStartOffset: o.result.logStartOffset,
  };
}
