/** Topic creation that is idempotent and waits until every partition has a leader, even on a broker that has just started. */
import kafkajs, { type Admin, type ITopicConfig, type Kafka } from 'kafkajs';
import { ConfigError, DependencyUnavailableError, isRetriable } from '../contracts/errors.js';
import { retry } from '../retry.js';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Unset: the broker's default.replication.factor (CreateTopics takes -1 for it). */
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
      replicationFactor: s.replicationFactor ?? -1,
      configEntries: Object.entries(s.configEntries ?? {}).map(([name, value]) => ({ name, value })),
    }));
  if (toCreate.length > 0) {
    // A replication factor the cluster cannot hold is a setting to fix, not a Kafka error to retry.
    const brokers = (await admin.describeCluster()).brokers.length;
    const wanted = Math.max(...toCreate.map((t) => t.replicationFactor ?? -1));
    if (wanted > brokers) {
      throw new ConfigError(
        `C360_REPLICATION_FACTOR is ${wanted}, but the cluster has ${brokers} broker${brokers === 1 ? '' : 's'}: set it (and C360_MIN_INSYNC_REPLICAS) to at most ${brokers}, e.g. 1 and 1 for a single-broker cluster.`,
      );
    }
    try {
      await admin.createTopics({ topics: toCreate, waitForLeaders: false });
    } catch (err) {
      // Another worker creating the same topics at the same moment is not an error. KafkaJS reports
      // one refusal as its type, several as an aggregate of them ("Topic creation errors").
      const refusals = err instanceof kafkajs.KafkaJSAggregateError ? err.errors : [err];
      if (!refusals.every((e) => e instanceof kafkajs.KafkaJSProtocolError && e.type === 'TOPIC_ALREADY_EXISTS')) throw err;
    }
  }
  const topics = specs.map((s) => s.topic);
  // Right after creation the broker may not know the topic yet, or have no leader for it: wait, within the timeout.
  await retry(
    async () => {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics }).catch((err: unknown) => {
        throw isRetriable(err) || /UNKNOWN_TOPIC|LEADER_NOT_AVAILABLE/.test(String((err as { type?: string }).type))
          ? new DependencyUnavailableError('kafka', `topics ${topics.join(', ')} are not ready`, { cause: err })
          : err;
      });
      if (!(metadata.length === topics.length && metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)))) {
        throw new DependencyUnavailableError('kafka', `topics ${topics.join(', ')} have no leader after ${timeoutMs / 1000}s`);
      }
    },
    { retries: Math.ceil(timeoutMs / 100), initialMs: 100, maxMs: 100 },
  );
  return toCreate.map((t) => t.topic);
}

// KafkaJS is CommonJS: Node's named imports cannot see its enums.
const { ConfigResourceTypes } = kafkajs;

/** Kafka's own default for a topic's max.message.bytes, when the broker does not say. */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** The largest record a topic takes (its max.message.bytes, set on the topic or inherited from the broker). */
export async function topicMaxMessageBytes(admin: Admin, topic: string): Promise<number> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
  });
  const value = Number(resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
  return Number.isSafeInteger(value) && value > 0 ? value : DEFAULT_MAX_MESSAGE_BYTES;
}

/** A topic's max.message.bytes, asked with an admin of its own. */
export async function maxMessageBytesOf(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await topicMaxMessageBytes(admin, topic);
  } finally {
    await admin.disconnect();
  }
}

/** The topics the cluster has. */
export async function existingTopics(kafka: Kafka): Promise<Set<string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Set(await admin.listTopics());
  } finally {
    await admin.disconnect();
  }
}

/** One way a topic on the cluster differs from what the topology declares. */
export interface TopicDrift {
  topic: string;
  setting: string;
  want: string;
  have: string;
  /** Whether `c360 topics create` can change it (create a topic, add partitions, set a config), or only a person can. */
  fixable: boolean;
  why?: string;
}

/** How the cluster's topics differ from `specs`: missing topics, partition counts, replication, and each config the specs set. */
export async function topicDrift(admin: Admin, specs: TopicSpec[]): Promise<TopicDrift[]> {
  const existing = new Set(await admin.listTopics());
  const drift: TopicDrift[] = [];
  const present = specs.filter((s) => {
    if (existing.has(s.topic)) return true;
    drift.push({ topic: s.topic, setting: 'topic', want: 'exists', have: 'missing', fixable: true });
    return false;
  });
  if (present.length === 0) return drift;
  const { topics } = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.topic })),
  });
  for (const spec of present) {
    const meta = topics.find((t) => t.name === spec.topic)!;
    const partitions = meta.partitions.length;
    if (partitions !== spec.numPartitions) {
      const up = partitions < spec.numPartitions;
      drift.push({
        topic: spec.topic,
        setting: 'partitions',
        want: String(spec.numPartitions),
        have: String(partitions),
        fixable: up,
        ...(up ? {} : { why: 'Kafka cannot remove partitions: recreate the topic (and its data) to have fewer' }),
      });
    }
    const replicas = Math.min(...meta.partitions.map((p) => p.replicas.length));
    if (spec.replicationFactor !== undefined && replicas !== spec.replicationFactor) {
      drift.push({
        topic: spec.topic,
        setting: 'replication factor',
        want: String(spec.replicationFactor),
        have: String(replicas),
        fixable: false,
        why: 'a partition reassignment (kafka-reassign-partitions) changes it, not c360',
      });
    }
    const configs = resources.find((r) => r.resourceName === spec.topic)?.configEntries ?? [];
    for (const [name, want] of Object.entries(spec.configEntries ?? {})) {
      const have = configs.find((c) => c.configName === name)?.configValue ?? '(unset)';
      if (have !== want) drift.push({ topic: spec.topic, setting: name, want, have, fixable: true });
    }
  }
  return drift;
}

/**
 * Makes the cluster match `specs` where it can: missing topics created, partitions added, topic
 * configs set (AlterConfigs sets a topic's whole config: settings c360 does not declare go back to
 * the broker's defaults). Returns the drift it could not fix.
 */
export async function reconcileTopics(admin: Admin, specs: TopicSpec[]): Promise<{ fixed: TopicDrift[]; left: TopicDrift[] }> {
  const created = await ensureTopics(admin, specs);
  const drift = await topicDrift(admin, specs);
  const fixable = drift.filter((d) => d.fixable);
  const bySpec = (topic: string) => specs.find((s) => s.topic === topic)!;
  const morePartitions = [...new Set(fixable.filter((d) => d.setting === 'partitions').map((d) => d.topic))];
  if (morePartitions.length > 0)
    await admin.createPartitions({ topicPartitions: morePartitions.map((topic) => ({ topic, count: bySpec(topic).numPartitions })) });
  const configTopics = [...new Set(fixable.filter((d) => d.setting !== 'partitions' && d.setting !== 'topic').map((d) => d.topic))];
  if (configTopics.length > 0) {
    await admin.alterConfigs({
      validateOnly: false,
      resources: configTopics.map((topic) => ({
        type: ConfigResourceTypes.TOPIC,
        name: topic,
        configEntries: Object.entries(bySpec(topic).configEntries ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  const createdDrift: TopicDrift[] = created.map((topic) => ({ topic, setting: 'topic', want: 'exists', have: 'missing', fixable: true }));
  return { fixed: [...createdDrift, ...fixable], left: drift.filter((d) => !d.fixable) };
}
