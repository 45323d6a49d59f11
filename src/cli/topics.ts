// `sluice topics create|list|describe|delete`.

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
  output?: OutputFormat;
}

export async function topicsCreate(name: string, flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const config = {
      ...(flags.retentionMs !== undefined ? { retentionMs: flags.retentionMs } : {}),
      ...(flags.retentionBytes !== undefined ? { retentionBytes: flags.retentionBytes } : {}),
      ...(flags.segmentBytes !== undefined ? { segmentBytes: flags.segmentBytes } : {}),
    };
    await admin.createTopic(name, { partitions: flags.partitions ?? -1, config });
    process.stdout.write(`created topic ${name}\n`);
  });
}

export async function topicsList(flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => !t.internal);
    printOutput(flags.output, topics, () =>
      formatTable(['TOPIC', 'PARTITIONS', 'RECORDS'], topics.map((t) => [t.name, t.partitions.length, t.partitions.reduce((n, p) => n + (p.highWatermark - p.logStartOffset), 0n)])),
    );
  });
}

export async function topicsDescribe(name: string, flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const t = await admin.describeTopic(name);
    const c = t.config;
    const settings = c
      ? `topic ${t.name}: retention.ms ${c.retentionMs}, retention.bytes ${c.retentionBytes}, segment.bytes ${c.segmentBytes}, segment.ms ${c.segmentMs}, max batch bytes ${c.maxBatchBytes}, cleanup.policy ${c.cleanupPolicy}\n\n`
      : '';
    printOutput(flags.output, t, () =>
      settings +
        formatTable(
          ['TOPIC', 'PARTITION', 'LEADER', 'LOG START', 'HIGH WATERMARK', 'SIZE BYTES', 'SEGMENTS'],
          t.partitions.map((p) => [t.name, p.partition, p.leader, p.logStartOffset, p.highWatermark, p.sizeBytes ?? null, p.segments ?? null]),
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

export async function topicsDelete(name: string, flags: TopicFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    await admin.deleteTopic(name);
    process.stdout.write(`deleted topic ${name}\n`);
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
