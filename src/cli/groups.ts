// `sluice groups list|describe|delete|delete-offsets|reset-offsets`. The changes are refused while
// a group has members (as Kafka's kafka-consumer-groups refuses them).

import type { ClientFlags } from './client-options.js';
import { formatTable, printOutput, type OutputFormat } from './table.js';
import { withAdmin } from './topics.js';
import type { OffsetResetTarget } from '../client/admin.js';
import { UsageError } from './usage-error.js';

type OutputFlags = ClientFlags & { output?: OutputFormat };

export async function groupsList(flags: OutputFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const groups = await admin.listGroups();
    printOutput(flags.output, groups, () => formatTable(['GROUP', 'STATE', 'PROTOCOL TYPE'], groups.map((g) => [g.groupId, g.state, g.protocolType])));
  });
}

export async function groupsDescribe(groupId: string, flags: OutputFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const g = await admin.describeGroup(groupId);
    const member = new Map(g.members.map((m) => [m.memberId, m]));
    // Assigned partitions without a commit yet are listed too.
    const rows = new Map(g.partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p]));
    for (const m of g.members) {
      for (const a of m.assignment) {
        const k = `${a.topic}\u0000${a.partition}`;
        if (!rows.has(k)) rows.set(k, { ...a, committedOffset: -1n, highWatermark: -1n, lag: -1n, memberId: m.memberId });
      }
    }
    const sorted = [...rows.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    printOutput(
      flags.output,
      { ...g, partitions: sorted },
      () =>
        `group ${g.groupId}: ${g.state}, generation ${g.generationId}, strategy ${g.protocol ?? '-'}, ${g.members.length} members\n\n` +
        formatTable(
          ['TOPIC', 'PARTITION', 'COMMITTED', 'HIGH WATERMARK', 'LAG', 'MEMBER', 'CLIENT', 'HOST'],
          sorted.map((p) => {
            const m = p.memberId ? member.get(p.memberId) : undefined;
            return [p.topic, p.partition, p.committedOffset < 0n ? null : p.committedOffset, p.highWatermark < 0n ? null : p.highWatermark, p.lag < 0n ? null : p.lag, p.memberId, m?.clientId ?? null, m?.clientHost ?? null];
          }),
        ),
    );
  });
}

export async function groupsDelete(groupId: string, flags: ClientFlags): Promise<void> {
  await withAdmin(flags, async (admin) => {
    await admin.deleteGroup(groupId);
    process.stdout.write(`deleted group ${groupId}\n`);
  });
}

export async function groupsDeleteOffsets(groupId: string, flags: ClientFlags & { topic: string; partition?: number[] }): Promise<void> {
  await withAdmin(flags, async (admin) => {
    const outcomes = await admin.deleteOffsets(groupId, flags.topic, flags.partition);
    const deleted = outcomes.filter((o) => !o.error).map((o) => o.partition);
    const kept = outcomes.filter((o) => o.error);
    if (deleted.length > 0) process.stdout.write(`deleted the offsets of group ${groupId} on ${flags.topic} partitions ${deleted.join(',')}\n`);
    // As kafka-consumer-groups --delete-offsets: a partition the group's members subscribe to is kept, and said so.
    for (const o of kept) process.stderr.write(`sluice: ${o.error!.code}: ${flags.topic}-${o.partition}: ${o.error!.message}\n`);
    if (kept.length > 0) process.exitCode = 1;
  });
}

export interface ResetFlags extends OutputFlags {
  topic: string;
  partition?: number[];
  toEarliest?: boolean;
  toLatest?: boolean;
  toDatetime?: string;
  toOffset?: string;
  shiftBy?: string;
  dryRun?: boolean;
}

export async function groupsResetOffsets(groupId: string, flags: ResetFlags): Promise<void> {
  const targets: OffsetResetTarget[] = [];
  if (flags.toEarliest) targets.push({ earliest: true });
  if (flags.toLatest) targets.push({ latest: true });
  if (flags.toDatetime !== undefined) {
    const ms = Date.parse(flags.toDatetime);
    if (Number.isNaN(ms)) throw new UsageError(`--to-datetime must be a date and time (ISO 8601, e.g. 2026-12-01T10:00:00Z), got ${JSON.stringify(flags.toDatetime)}`);
    targets.push({ timestampMs: ms });
  }
  if (flags.toOffset !== undefined) {
    if (!/^\d+$/.test(flags.toOffset)) throw new UsageError(`--to-offset must be an offset, got ${JSON.stringify(flags.toOffset)}`);
    targets.push({ offset: BigInt(flags.toOffset) });
  }
  if (flags.shiftBy !== undefined) {
    if (!/^-?\d+$/.test(flags.shiftBy)) throw new UsageError(`--shift-by must be a whole number, got ${JSON.stringify(flags.shiftBy)}`);
    targets.push({ shiftBy: BigInt(flags.shiftBy) });
  }
  if (targets.length !== 1) throw new UsageError('say where to: exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by');
  await withAdmin(flags, async (admin) => {
    const plan = await admin.resetOffsets(groupId, flags.topic, targets[0]!, { ...(flags.partition ? { partitions: flags.partition } : {}), dryRun: flags.dryRun === true });
    printOutput(flags.output, { groupId, dryRun: flags.dryRun === true, partitions: plan }, () =>
      (flags.dryRun ? 'dry run: nothing was committed\n' : '') +
        formatTable(['TOPIC', 'PARTITION', 'CURRENT', 'NEW'], plan.map((p) => [p.topic, p.partition, p.current, p.target])),
    );
  });
}
