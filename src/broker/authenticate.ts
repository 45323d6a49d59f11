// The broker API for authentication: a connection proves who it is once, with a token (Sluice's
// Authenticate) or SASL PLAIN carrying one (Kafka's door: user = the principal's name), before
// anything but the version probe and the handshake. The session then carries the principal.

import { SluiceError } from '../errors.js';
import type { Principal } from '../auth/access.js';
import type { BrokerSession } from './session.js';

/** What a client presents: its token, and (SASL PLAIN) the user and authorization id it claims. */
export interface Credentials {
  token: string;
  user?: string;
  authzid?: string;
}

/** Whether this broker authenticates clients at all (an --auth-file). */
export function authenticationEnabled(s: BrokerSession): boolean {
  return s.access !== null;
}

/**
 * Authenticates the session. `credentials` is read only once the session may authenticate (on, and
 * not yet done), so a malformed claim is not reported before the session's own state.
 */
export function authenticate(s: BrokerSession, credentials: () => Credentials, door: 'sluice' | 'kafka'): Principal {
  if (!s.access) throw new SluiceError('ILLEGAL_SASL_STATE', 'authentication is off on this broker (no --auth-file)');
  if (s.session.principal) throw new SluiceError('ILLEGAL_SASL_STATE', `this connection is already authenticated as ${s.session.principal.name}`);
  const { token, user, authzid } = credentials();
  const principal = s.access.authenticate(token);
  if ((user !== undefined && principal.name !== user) || (authzid !== undefined && authzid !== '' && authzid !== user)) {
    throw new SluiceError('SASL_AUTHENTICATION_FAILED', "authentication failed: the token is not this user's");
  }
  s.session.principal = principal;
  s.logger.info(door === 'kafka' ? { principal: principal.name, listener: 'kafka' } : { principal: principal.name }, 'authenticated');
  return principal;
}
