/**
 * Consumer-group lag as the brokers see it, for Prometheus: per group and partition, the group's
 * committed offset, the partition's end and the difference, and how many members the group has.
 * Workers report their own lag too, but only while they run and only for what they own; this
 * reads the brokers, so a crashed or stopped group still shows what waits (and no members), and a
 * rebalance changes nothing (offsets belong to the group, not to a worker). One exporter per
 * cluster and namespace is enough.
 */
import type { Admin, Kafka } from 'kafkajs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { describeError } from '../contracts/errors.js';
import { type PartitionOffsets, readGroupOffsets } from '../kafka/lag.js';
import type { Logger } from './logger.js';
import { perRegistry } from './metrics.js';

export const lagExporterMetrics = perRegistry((registry: Registry) => ({
  lag: new Gauge({
    name: 'c360_group_lag_records',
    help: "Offsets in the partition after the group's committed offset, as the brokers report them (transaction markers included; from the partition's start when the group committed none)",
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
  }),
  committed: new Gauge({
    name: 'c360_group_committed_offset',
    help: 'The offset the group committed for the partition (-1: none yet): a value that does not move while lag waits is a stalled group',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
  }),
  members: new Gauge({
    name: 'c360_group_members',
    help: 'Members of the consumer group (0: nothing consumes it)',
    labelNames: ['group'],
    registers: [registry],
  }),
  failures: new Counter({
    name: 'c360_group_lag_poll_failures_total',
    help: 'Polls of the brokers for group offsets that failed (the series keep their last values meanwhile)',
    registers: [registry],
  }),
}));

export interface GroupTopics {
  group: string;
  topics: string[];
}

/** One read of the brokers: each group's offsets (kafka/lag.ts) and its member count. */
export async function readGroupState(admin: Admin, groups: GroupTopics[]): Promise<{ partitions: PartitionOffsets[]; members: Map<string, number> }> {
  const partitions = await readGroupOffsets(admin, groups);
  const described = await admin.describeGroups(groups.map((g) => g.group));
  return { partitions, members: new Map(described.groups.map((g) => [g.groupId, g.members.length])) };
}

/** Polls the brokers and keeps the gauges at what they say; a failed poll is counted and logged, and the next one tries again. */
export class LagExporter {
  private readonly metrics: ReturnType<typeof lagExporterMetrics>;

  constructor(
    private readonly kafka: Kafka,
    private readonly groups: GroupTopics[],
    registry: Registry,
    private readonly logger: Logger,
  ) {
    this.metrics = lagExporterMetrics(registry);
  }

  async poll(): Promise<boolean> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const { partitions, members } = await readGroupState(admin, this.groups);
      // Only the partitions that exist now: a deleted topic's series go.
      this.metrics.lag.reset();
      this.metrics.committed.reset();
      for (const p of partitions) {
        const labels = { group: p.group, topic: p.topic, partition: String(p.partition) };
        this.metrics.lag.set(labels, p.lag);
        this.metrics.committed.set(labels, p.committed);
      }
      for (const { group } of this.groups) this.metrics.members.set({ group }, members.get(group) ?? 0);
      return true;
    } catch (err) {
      this.metrics.failures.inc();
      this.logger.warn({ err: describeError(err) }, 'reading group offsets from the brokers failed; the next poll tries again');
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
