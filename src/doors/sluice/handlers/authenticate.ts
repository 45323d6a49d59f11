// Authenticate: a token for a principal, once per connection. With authentication off, anyone is
// already ANONYMOUS and the request is refused as out of place.

import { SluiceError } from '../../../errors.js';
import { decodeAuthenticateRequest, type AuthenticateResponse } from '../../../protocol/messages.js';
import type { Handler } from './handler.js';

export const handleAuthenticate: Handler = (ctx, { body }) => {
  const request = decodeAuthenticateRequest(body);
  if (!ctx.access) throw new SluiceError('ILLEGAL_SASL_STATE', 'authentication is off on this broker (no --auth-file)');
  if (ctx.session.principal) throw new SluiceError('ILLEGAL_SASL_STATE', `this connection is already authenticated as ${ctx.session.principal.name}`);
  const principal = ctx.access.authenticate(request.token);
  ctx.session.principal = principal;
  ctx.logger.info({ principal: principal.name }, 'authenticated');
  return { body: { principal: principal.name } satisfies AuthenticateResponse };
};
