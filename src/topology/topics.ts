/** Topic names and their settings, derived from a topology's namespace and sources (docs/contracts.md). */
import type { TopicSpec } from '../kafka/topics.js';
import type { Topology } from './definition.js';

const DAY_MS = 86_400_000;

export interface TopicNames {
  ingest(source: string): string;
  raw(source: string): string;
  nearDuplicates: string;
  deadLetter: string;
  ledger: string;
  /** Compacted: the position of every file ingest and connector, written in the transaction of the records it covers. */
  connectorState: string;
}

export function topicNames(namespace: string): TopicNames {
  return {
    ingest: (source) => `${namespace}.ingest.${source}`,
    raw: (source) => `${namespace}.raw.${source}`,
    nearDuplicates: `${namespace}.near-duplicates`,
    deadLetter: `${namespace}.dead-letter`,
    ledger: `${namespace}.ledger`,
    connectorState: `${namespace}.connector-state`,
  };
}

export function topicSpecs(topology: Topology): TopicSpec[] {
  const names = topicNames(topology.namespace);
  const retention = (days: number) => ({ 'retention.ms': String(days * DAY_MS) });
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
    { topic: names.ledger, numPartitions: 1, configEntries: { 'retention.ms': '-1' } },
    // Only the latest position per key matters, and it must never expire.
    { topic: names.connectorState, numPartitions: 1, configEntries: { 'cleanup.policy': 'compact', 'retention.ms': '-1' } },
  ];
}
