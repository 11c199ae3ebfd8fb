/** Topic creation that is idempotent and waits until every partition has a leader, even on a broker that has just started. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, ITopicConfig } from 'kafkajs';
import { DependencyUnavailableError } from '../contracts/errors.js';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor?: number;
  configEntries?: Record<string, string>;
}

export async function ensureTopics(admin: Admin, specs: TopicSpec[], timeoutMs = 30_000): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const toCreate: ITopicConfig[] = specs
    .filter((s) => !existing.has(s.topic))
    .map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      replicationFactor: s.replicationFactor ?? 1,
      configEntries: Object.entries(s.configEntries ?? {}).map(([name, value]) => ({ name, value })),
    }));
  if (toCreate.length > 0) {
    try {
      await admin.createTopics({ topics: toCreate, waitForLeaders: false });
    } catch (err) {
      // Another worker creating the same topics at the same moment is not an error.
      if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
    }
  }
  const topics = specs.map((s) => s.topic);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      if (metadata.length === topics.length && metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
        return toCreate.map((t) => t.topic);
      }
    } catch (err) {
      // Right after creation the broker may not know the topic yet (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE).
      if ((err as { retriable?: boolean }).retriable !== true && !/UNKNOWN_TOPIC|LEADER_NOT_AVAILABLE/.test(String((err as { type?: string }).type))) throw err;
    }
    if (Date.now() > deadline) throw new DependencyUnavailableError('kafka', `topics ${topics.join(', ')} have no leader after ${timeoutMs / 1000}s`);
    await sleep(100);
  }
}
