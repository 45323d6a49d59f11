// Push subscriptions in Sluice's protocol: Subscribe opens one on the connection (its pushes start
// once the response is queued, so they follow it on the wire), Credit grants bytes, Unsubscribe
// ends one. The streaming and flow control are the domain's (log/subscription.ts); this encodes
// each push as a frame with meta [nil, PushBody] followed by the batches' log slice.

import { subscribe, type LogSubscription, type Push } from '../../../broker/data.js';
import { SluiceError } from '../../../errors.js';
import { encodePush, encodePushHead } from '../../../protocol/codec.js';
import {
  decodeCreditRequest,
  decodeSubscribeRequest,
  decodeUnsubscribeRequest,
  errorBody,
  MAX_PARTITIONS_PER_REQUEST,
  type PushBody,
  type SubscribeResponse,
} from '../../../protocol/messages.js';
import type { BrokerSession } from '../../../broker/session.js';
import type { Handler } from './handler.js';

/** Subscriptions one connection may hold at once (each is small, but not free). */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = MAX_PARTITIONS_PER_REQUEST;

export const handleSubscribe: Handler = (ctx, { body }) => {
  const request = decodeSubscribeRequest(body);
  const refuse = (err: SluiceError, offsets = { highWatermark: -1n, logStartOffset: -1n }) => ({ body: { error: errorBody(err), ...offsets } satisfies SubscribeResponse });
  if (ctx.pushes.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
    return refuse(new SluiceError('INVALID_REQUEST', `a connection holds at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions; unsubscribe or open another connection`));
  }
  const id = ctx.pushes.nextId();
  const opened = subscribe(ctx, request, {
    deliver: (push) => ctx.pushes.send(pushFrame(id, push)),
    end: (error, at) => {
      ctx.pushes.subscriptions.delete(id);
      const end: PushBody = { subscriptionId: id, ...at, bytes: 0, error: errorBody(error) };
      ctx.pushes.send([encodePush(end)]).catch(() => undefined); // a closed connection needs no goodbye
    },
  });
  if (opened.error) return refuse(opened.error, { highWatermark: opened.highWatermark, logStartOffset: opened.logStartOffset });
  const { subscription } = opened;
  ctx.pushes.subscriptions.set(id, subscription);
  const p = subscription.partition;
  return { body: { subscriptionId: id, highWatermark: p.highWatermark, logStartOffset: p.logStartOffset } satisfies SubscribeResponse, afterResponse: () => subscription.start() };
};

// Credit has no response (one per window's worth of data would double the frames): a malformed
// one closes the connection, and credit for a subscription that has ended (it may cross that
// subscription's last push) is dropped.
export const handleCredit: Handler = (ctx, { body }) => {
  let request;
  try {
    request = decodeCreditRequest(body);
  } catch (err) {
    return { noResponse: true, closeReason: `bad Credit request: ${(err as Error).message}` };
  }
  subscriptionOf(ctx, request.subscriptionId)?.grant(request.bytes);
  return { noResponse: true };
};

/** Unsubscribing from a subscription that already ended (or never was) is not an error: it is over either way. */
export const handleUnsubscribe: Handler = (ctx, { body }) => {
  const { subscriptionId } = decodeUnsubscribeRequest(body);
  subscriptionOf(ctx, subscriptionId)?.cancel();
  ctx.pushes.subscriptions.delete(subscriptionId);
  return { body: {} };
};

function subscriptionOf(ctx: BrokerSession, id: number): LogSubscription | undefined {
  return ctx.pushes.subscriptions.get(id);
}

function pushFrame(id: number, push: Push): [Buffer, Push['slice']] {
  return [encodePushHead(id, push.highWatermark, push.logStartOffset, push.nextOffset, push.slice.bytes), push.slice];
}
