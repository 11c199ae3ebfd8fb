/** Topic and consumer-group names, derived from a topology's namespace (docs/contracts.md): what producers, workers, tools and autoscalers agree on. */

export interface TopicNames {
  ingest(source: string): string;
  raw(source: string): string;
  nearDuplicates: string;
  deadLetter: string;
  ledger: string;
  /** Compacted: the position of every file ingest and connector, written in the transaction of the records it covers. */
  connectorState: string;
  /** Compacted, expiring after the dedup window: every dedup claim, written in the transaction of the record that made it; Redis is rebuilt from it. */
  dedupChangelog: string;
  /** Compacted, expiring after a window and a half: every identity's near-duplicate state per slice, written in the transaction of the record that changed it; Redis is rebuilt from it. */
  nearDuplicateChangelog: string;
  /** The consumer group of the topology workers (`c360 run`), over the ingest topics. */
  topologyGroup: string;
  /** The consumer group of the sink workers (`c360 sink`), over the raw, near-duplicate and dead-letter topics. */
  sinkGroup: string;
}

export function topicNames(namespace: string): TopicNames {
  return {
    ingest: (source) => `${namespace}.ingest.${source}`,
    raw: (source) => `${namespace}.raw.${source}`,
    nearDuplicates: `${namespace}.near-duplicates`,
    deadLetter: `${namespace}.dead-letter`,
    ledger: `${namespace}.ledger`,
    connectorState: `${namespace}.connector-state`,
    dedupChangelog: `${namespace}.dedup-changelog`,
    nearDuplicateChangelog: `${namespace}.near-duplicate-changelog`,
    topologyGroup: `${namespace}.topology`,
    sinkGroup: `${namespace}.sink`,
  };
}
