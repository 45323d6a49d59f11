// `sluice broker` (what `npm start` runs): resolves the settings, logs them, starts the broker and
// prints one ready line when it accepts connections (`sluice listening on HOST:PORT (kafka on
// HOST:PORT, metrics on URL)`). SIGTERM or
// SIGINT stops it gracefully and exits 0; a second signal exits at once. A broker that cannot
// start (port taken, data directory unwritable or locked, bad setting) says why and exits 1.

import { pino, type Logger } from 'pino';
import { SluiceError } from '../errors.js';
import { Broker, SLUICE_VERSION } from '../app/broker.js';
import { resolveBrokerSettings, type ResolvedSettings } from '../app/settings.js';

export async function runBroker(flags: Record<string, unknown>): Promise<void> {
  let settings: ResolvedSettings;
  try {
    settings = resolveBrokerSettings(flags);
  } catch (err) {
    return fail(err);
  }
  const logger = makeLogger(settings);
  const { config } = settings;
  logger.info({ version: SLUICE_VERSION, node: process.versions.node, config, sources: settings.sources }, 'starting sluice broker');

  let broker: Broker;
  try {
    broker = await Broker.start(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'cannot start');
    return fail(err, config);
  }
  const { address, port } = broker.address;
  const metrics = broker.metricsAddress;
  const kafka = broker.kafkaAddress;
  logger.info(
    { host: address, port, kafkaPort: kafka?.port ?? null, metricsPort: metrics?.port ?? null, topics: broker.topics.list().length, fetchPath: config.fetchPath },
    'broker ready',
  );
  const extras = [...(kafka ? [`kafka on ${kafka.address}:${kafka.port}`] : []), ...(metrics ? [`metrics on http://${metrics.address}:${metrics.port}/metrics`] : [])];
  process.stdout.write(`sluice listening on ${address}:${port}${extras.length > 0 ? ` (${extras.join(', ')})` : ''}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean stop');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight requests, flushing and closing logs');
    broker.stop().then(
      () => {
        logger.info('stopped cleanly');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.fatal({ err }, 'stop failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function makeLogger(settings: ResolvedSettings): Logger {
  const pretty = settings.logFormat === 'pretty' || (settings.logFormat === 'auto' && process.stdout.isTTY === true);
  const options = { level: settings.logLevel, name: 'sluice' };
  // Synchronous: log lines and the ready line reach stdout in the order they were written (the
  // broker logs little: start, stop, topics, recovery, connection problems; never per request).
  return pretty ? pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 1 } } }) : pino(options, pino.destination({ dest: 1, sync: true }));
}

/** Prints why the broker cannot run, in words, and exits 1. */
function fail(err: unknown, config?: { host: string; port: number; dataDir: string }): void {
  const e = err as NodeJS.ErrnoException & { code?: string };
  let message = e instanceof Error ? e.message : String(err);
  if (e.code === 'EADDRINUSE' && config) message = `the port is taken (${message}); is another broker running? choose others with --port, --kafka-port and --metrics-port`;
  else if (e.code === 'EACCES' && config) message = `permission denied (${message})`;
  else if (e instanceof SluiceError && e.code === 'KAFKA_STORAGE_ERROR' && config) message = `the data directory ${config.dataDir} is not usable: ${message}`;
  process.stderr.write(`sluice: cannot start: ${message}\n`);
  process.exitCode = 1;
}
