// InitProducerId: an idempotent producer's id and epoch, from the broker's producer API.

import { initProducerId } from '../../../broker/producers.js';
import { decodeInitProducerIdRequest, type InitProducerIdResponse } from '../../../protocol/messages.js';
import type { Handler } from './handler.js';

export const handleInitProducerId: Handler = (ctx, { body }) => {
  decodeInitProducerIdRequest(body);
  return { body: initProducerId(ctx, null) satisfies InitProducerIdResponse };
};
