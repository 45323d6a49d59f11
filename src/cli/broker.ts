// `sluice broker`: today it opens every partition log under the data directory (recovering any that
// were not closed cleanly), logs what recovery found, and closes them cleanly. The network
// listener (wire protocol, produce, fetch) is the broker issue's work and will start here.

import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { SluiceError } from '../errors.js';
import { PartitionLog } from '../storage/partition-log.js';
import { FETCH_PATHS, isFetchPath } from '../transfer/engine.js';

/** `<topic>-<partition>` directory names; topic names may themselves contain '-'. */
const PARTITION_DIR = /^(.+)-(\d+)$/;

export async function runBroker(flags: { data: string; logLevel: string; fetchPath: string }): Promise<void> {
  const logger = pino({ level: flags.logLevel, name: 'sluice' });
  if (!isFetchPath(flags.fetchPath)) {
    throw new SluiceError('INVALID_CONFIG', `--fetch-path must be one of ${FETCH_PATHS.join(', ')}, got ${flags.fetchPath}`);
  }
  const dataDir = resolve(flags.data);
  mkdirSync(dataDir, { recursive: true });
  logger.info({ dataDir }, 'opening partition logs');
  const dirs = readdirSync(dataDir).filter((d) => PARTITION_DIR.test(d) && statSync(join(dataDir, d)).isDirectory());
  for (const d of dirs) {
    const log = await PartitionLog.open(join(dataDir, d));
    const report = log.recoveryReport;
    const truncated = report.recovered.filter((r) => r.truncatedBytes > 0);
    logger.info(
      {
        partition: d,
        highWatermark: String(log.highWatermark),
        logStartOffset: String(log.logStartOffset),
        cleanShutdown: report.cleanShutdown,
        scannedSegments: report.recovered.length,
      },
      'partition log open',
    );
    for (const r of truncated) {
      logger.warn({ partition: d, segment: String(r.baseOffset), position: r.validBytes, droppedBytes: r.truncatedBytes, reason: r.reason }, 'truncated a damaged log tail');
    }
    await log.close();
  }
  logger.info(
    { partitions: dirs.length, fetchPath: flags.fetchPath },
    'storage ready; the TCP listener is not built yet (see README: status)',
  );
}
