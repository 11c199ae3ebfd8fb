/** The settings of a topology's topics: partitions, retention, compaction (docs/contracts.md). */

import type { TopicDurability } from '../config.js';
import { topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import type { TopicSpec } from '../kafka/topic-admin.js';

const DAY_MS = 86_400_000;

export function topicSpecs(topology: Topology, durability: TopicDurability): TopicSpec[] {
  const names = topicNames(topology.namespace);
  const { replicationFactor } = durability;
  const minIsr: Record<string, string> = durability.minInsyncReplicas !== undefined ? { 'min.insync.replicas': String(durability.minInsyncReplicas) } : {};
  const retention = (days: number) => ({ 'retention.ms': String(days * DAY_MS), ...minIsr });
  const partitions = Math.max(...topology.sources.map((s) => s.partitions));
  return [
    ...topology.sources.flatMap((s) => [
      // Ingest topics are a buffer in front of the checks; raw topics feed the raw layer and identity resolution.
      { topic: names.ingest(s.name), numPartitions: s.partitions, configEntries: retention(7) },
      { topic: names.raw(s.name), numPartitions: s.partitions, configEntries: retention(14) },
    ]),
    { topic: names.nearDuplicates, numPartitions: partitions, configEntries: retention(14) },
    { topic: names.deadLetter, numPartitions: partitions, configEntries: retention(30) },
    // The ledger is the audit trail of counts: kept until deleted by hand.
    { topic: names.ledger, numPartitions: 1, configEntries: { 'retention.ms': '-1', ...minIsr } },
    // Only the latest position per key matters, and it must never expire.
    { topic: names.connectorState, numPartitions: 1, configEntries: { 'cleanup.policy': 'compact', 'retention.ms': '-1', ...minIsr } },
    // The latest claim per key, for as long as a claim lives (a day more, so none expires here before Redis lets it go).
    {
      topic: names.dedupChangelog,
      numPartitions: partitions,
      configEntries: { 'cleanup.policy': 'compact,delete', 'retention.ms': String(Math.ceil(topology.dedupWindowDays + 1) * DAY_MS), ...minIsr },
    },
    // Each identity's latest state per slice, for as long as a slice lives (a window and a half, and a day). Its entries
    // hold sealed profiles: an erasure's tombstones compact them away within a day (segments roll hourly).
    {
      topic: names.nearDuplicateChangelog,
      numPartitions: partitions,
      configEntries: {
        'cleanup.policy': 'compact,delete',
        'retention.ms': String(Math.ceil(topology.dedupWindowDays * 1.5 + 1) * DAY_MS),
        'segment.ms': String(DAY_MS / 24),
        'max.compaction.lag.ms': String(DAY_MS),
        ...minIsr,
      },
    },
  ].map((spec) => (replicationFactor !== undefined ? { ...spec, replicationFactor } : spec));
}

/** The topology's consumer groups and the topics each reads: the workers' groups, as a lag exporter watches them. */
export function consumerGroups(topology: Topology): Array<{ group: string; topics: string[] }> {
  const names = topicNames(topology.namespace);
  return [
    { group: names.topologyGroup, topics: topology.sources.map((s) => names.ingest(s.name)) },
    { group: names.sinkGroup, topics: [...topology.sources.map((s) => names.raw(s.name)), names.nearDuplicates, names.deadLetter] },
  ];
}
