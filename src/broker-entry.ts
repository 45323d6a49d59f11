// `sluice/broker`: the broker as a class, for programs that embed it with full control (the CLI's
// `sluice broker` does the same). Most callers want `startBroker` from `sluice` instead.

export { Broker, SLUICE_VERSION, type BrokerConfig } from './app/broker.js';
export { startBroker, type StartBrokerOptions, type EmbeddedBroker } from './app/embedded.js';
