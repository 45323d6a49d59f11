// `sluice topics create|list|describe|delete|alter|alter-config|delete-records|describe-producers`.

import { clientOptions, type ClientFlags } from './client-options.js';
import { Admin } from '../client/admin.js';
import { formatTable, printOutput, type OutputFormat } from './table.js';
import { UsageError } from './usage-error.js';

export interface TopicFlags {
  broker: string;
  token?: string;
  partitions?: number;
  retentionMs?: number;
  retentionBytes?: number;
  segmentBytes?: number;
  replicationFactor?: number;
  minInsyncReplicas?: number;
  output?: OutputFormat;
  /** alter-config: `key=value` settings and keys returned to the broker's default. */
  set?: string[];
  delete?: string[];
  dryRun?: boolean;
  /** delete-records: the partition and the new log start (-1: the high watermark). */
  partition?: number;
  offset?: bigint;
}

export async function topicsCreate(name: string, flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const config = {
      ...(flags.retentionMs !== undefined ? { retentionMs: flags.retentionMs } : {}),
      ...(flags.retentionBytes !== undefined ? { retentionBytes: flags.retentionBytes } : {}),
      ...(flags.segmentBytes !== undefined ? { segmentBytes: flags.segmentBytes } : {}),
      ...(flags.minInsyncReplicas !== undefined ? { minInsyncReplicas: flags.minInsyncReplicas } : {}),
    };
    await admin.createTopic(name, { partitions: flags.partitions ?? -1, replicationFactor: flags.replicationFactor ?? -1, config });
    process.stdout.write(`created topic ${name}\n`);
  });
}

export async function topicsList(flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => !t.internal);
    printOutput(flags.output, topics, () =>
      formatTable(['TOPIC', 'PARTITIONS', 'RECORDS'], topics.map((t) => [t.name, t.partitions.length, t.partitions.reduce((n, p) => n + ((p.highWatermark ?? 0n) - (p.logStartOffset ?? 0n)), 0n)])),
    );
  });
}

export async function topicsDescribe(name: string, flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const t = await admin.describeTopic(name);
    const configs = await admin.describeConfigs(name);
    printOutput(flags.output, { ...t, configs }, () =>
      formatTable(['CONFIG', 'VALUE', 'SOURCE'], configs.map((c) => [c.name, c.value, c.source])) +
        '\n' +
        formatTable(
          ['TOPIC', 'PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'LOG START', 'HIGH WATERMARK', 'SIZE BYTES', 'SEGMENTS'],
          t.partitions.map((p) => [
            t.name,
            p.partition,
            p.leader,
            (p.replicas ?? [p.leader]).join(','),
            (p.isr ?? [p.leader]).join(','),
            p.logStartOffset ?? null,
            p.highWatermark ?? null,
            p.sizeBytes ?? null,
            p.segments ?? null,
          ]),
        ),
    );
  });
}

export async function topicsAlter(name: string, flags: TopicFlags): Promise<void> {
  if (flags.partitions === undefined) throw new UsageError('say what to change: --partitions N');
  await withAdmin(flags, async (admin) => {
    await admin.createPartitions(name, flags.partitions!);
    process.stdout.write(`topic ${name} now has ${flags.partitions} partitions\n`);
  });
}

export async function topicsAlterConfig(name: string, flags: TopicFlags): Promise<void> {
  const changes: Record<string, string | null> = {};
  for (const pair of flags.set ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--set takes key=value, got "${pair}"`);
    changes[pair.slice(0, at)] = pair.slice(at + 1);
  }
  for (const key of flags.delete ?? []) {
    if (key in changes) throw new UsageError(`${key} is both set and deleted`);
    changes[key] = null;
  }
  if (Object.keys(changes).length === 0) throw new UsageError('say what to change: --set key=value or --delete key');
  await withAdmin(flags, async (admin) => {
    await admin.alterConfigs(name, changes, { validateOnly: flags.dryRun ?? false });
    const list = Object.entries(changes).map(([k, v]) => (v === null ? `${k} (default)` : `${k}=${v}`)).join(', ');
    process.stdout.write(flags.dryRun ? `would alter topic ${name}: ${list} (dry run: nothing changed)\n` : `altered topic ${name}: ${list}\n`);
  });
}

/** With `--output json`, what went: the topic's partitions with the offsets they had just before. */
export async function topicsDelete(name: string, flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const before = flags.output === 'json' ? await admin.describeTopic(name) : undefined;
    await admin.deleteTopic(name);
    printOutput(
      flags.output,
      {
        name,
        deleted: true,
        partitions: before?.partitions.map((p) => ({ partition: p.partition, logStartOffset: p.logStartOffset ?? null, highWatermark: p.highWatermark ?? null })) ?? [],
      },
      () => `deleted topic ${name}\n`,
    );
  });
}

/** Like kafka-delete-records: the partition's records below the offset are deleted for every reader. */
export async function topicsDeleteRecords(name: string, flags: TopicFlags): Promise<void> {
  if (flags.partition === undefined || flags.offset === undefined) throw new UsageError('say where: --partition N --offset O (-1: everything)');
  await withAdmin(flags, async (admin) => {
    const start = await admin.deleteRecords(name, flags.partition!, flags.offset!);
    process.stdout.write(`${name}-${flags.partition} now starts at offset ${start}\n`);
  });
}

/** Like kafka-transactions describe-producers: each partition's idempotent producers. */
export async function topicsDescribeProducers(name: string, flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const partitions = await admin.describeProducers(name, flags.partition === undefined ? undefined : [flags.partition]);
    printOutput(flags.output, partitions, () =>
      formatTable(
        ['TOPIC', 'PARTITION', 'PRODUCER ID', 'EPOCH', 'LAST SEQUENCE', 'LAST WRITE'],
        partitions.flatMap((p) => p.producers.map((s) => [name, p.partition, s.producerId, s.producerEpoch, s.lastSequence, new Date(s.lastTimestampMs).toISOString()])),
      ),
    );
  });
}

export async function withAdmin(flags: ClientFlags, fn: (admin: Admin) => Promise<void>): Promise<void> {
  const admin = new Admin(clientOptions(flags));
  try {
    await fn(admin);
  } finally {
    await admin.close();
  }
}
