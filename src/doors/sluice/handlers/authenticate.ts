// Authenticate: a token for a principal, once per connection. With authentication off, anyone is
// already ANONYMOUS and the request is refused as out of place.

import { authenticate } from '../../../broker/authenticate.js';
import { decodeAuthenticateRequest, type AuthenticateResponse } from '../../../protocol/messages.js';
import type { Handler } from './handler.js';

export const handleAuthenticate: Handler = (ctx, { body }) => {
  const request = decodeAuthenticateRequest(body);
  const principal = authenticate(ctx, () => ({ token: request.token }), 'sluice');
  return { body: { principal: principal.name } satisfies AuthenticateResponse };
};
