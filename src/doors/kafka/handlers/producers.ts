// Kafka InitProducerId and DescribeProducers over the broker's producer API (broker/producers.ts),
// and OffsetForLeaderEpoch over the records API (broker/data.ts).

import { SluiceError } from '../../../errors.js';
import { describeProducers as describePartitionProducers, initProducerId as newProducerId } from '../../../broker/producers.js';
import { offsetForLeaderEpoch as epochEnds } from '../../../broker/data.js';
import { kafkaErrorCode } from '../apis.js';
import { decodeOffsetForLeaderEpoch, encodeOffsetForLeaderEpoch } from '../messages/epochs.js';
import { decodeDescribeProducers, decodeInitProducerId, encodeDescribeProducers, encodeInitProducerId } from '../messages/producers.js';
import { body, byTopic, flatten, kafkaHandler } from './handler.js';

export const initProducerId = kafkaHandler(decodeInitProducerId, (ctx, request, header) => {
  let answer = { errorCode: 0, producerId: -1n, producerEpoch: -1 };
  try {
    answer = { errorCode: 0, ...newProducerId(ctx, request.transactionalId) };
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    answer.errorCode = kafkaErrorCode(err);
  }
  return body((w) => encodeInitProducerId(w, header.apiVersion, answer.errorCode, answer.producerId, answer.producerEpoch));
});

export const describeProducers = kafkaHandler(decodeDescribeProducers, async (ctx, request, header) => {
  const outcomes = await describePartitionProducers(ctx, flatten(request.topics.map((t) => ({ name: t.name, partitions: t.partitions })), (topic, partition) => ({ topic, partition })));
  return body((w) =>
    encodeDescribeProducers(
      w,
      header.apiVersion,
      byTopic(outcomes, (o) => ({
        partition: o.partition,
        errorCode: kafkaErrorCode(o.error),
        errorMessage: o.error?.message ?? null,
        producers: (o.producers ?? []).map((p) => ({ ...p, lastTimestampMs: BigInt(p.lastTimestampMs) })),
      })),
    ),
  );
});

/** OffsetForLeaderEpoch: where each asked epoch ended in this leader's log (clients validate their positions with it). */
export const offsetForLeaderEpoch = kafkaHandler(decodeOffsetForLeaderEpoch, async (ctx, request, header) => {
  const inputs = flatten(request.topics, (topic, p) => ({ topic, partition: p.partition, leaderEpoch: p.leaderEpoch, currentLeaderEpoch: p.currentLeaderEpoch }));
  const outcomes = await epochEnds(ctx, inputs, request.replicaId);
  return body((w) =>
    encodeOffsetForLeaderEpoch(
      w,
      header.apiVersion,
      byTopic(outcomes, (o) => ({ partition: o.partition, errorCode: kafkaErrorCode(o.error), leaderEpoch: o.leaderEpoch, endOffset: o.endOffset })),
    ),
  );
});
