// `sluice groups list|describe`.

import type { ClientFlags } from './client-options.js';
import { formatTable, printOutput, type OutputFormat } from './table.js';
import { withAdmin } from './topics.js';

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
