// What the client commands (topics, produce, consume, groups) pass to their clients: the broker
// address and, for brokers run with --auth-file, the token (--token or SLUICE_TOKEN).

import type { ClientOptions } from '../client/broker-client.js';

export interface ClientFlags {
  broker: string;
  token?: string;
}

export function clientOptions(flags: ClientFlags): ClientOptions {
  return { broker: flags.broker, clientId: 'sluice-cli', ...(flags.token === undefined ? {} : { token: flags.token }) };
}
