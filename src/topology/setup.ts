/** What a topology needs before it runs: its topics (`c360 topics create`) and its schemas (`c360 schemas register`). */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import type { Config, TopicDurability } from '../config.js';
import type { DeadLetterContract } from '../contracts/dead-letter.js';
import { topicNames } from '../contracts/topics.js';
import type { Topology } from '../contracts/topology-definition.js';
import { ensureTopics, topicMaxMessageBytes } from '../kafka/topics.js';
import { loadSchema } from '../schema/avro.js';
import type { CompiledEntity } from '../schema/entity.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { topicSpecs } from './topics.js';

/** Creates the topology's missing topics, as durable as configured; returns the ones it created. */
export async function createTopologyTopics(kafka: Kafka, topology: Topology, durability: TopicDurability): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await ensureTopics(admin, topicSpecs(topology, durability));
  } finally {
    await admin.disconnect();
  }
}

/**
 * The dead-letter contract for a process that writes or reads dead-letter records: the schema,
 * registered under `<ns>.dead-letter-value` (idempotent), and the dead-letter topic's size limit.
 */
export async function deadLetterContract(config: Config, kafka: Kafka, namespace: string, id?: number): Promise<DeadLetterContract> {
  const { schema, type } = loadSchema('DeadLetter');
  const topic = topicNames(namespace).deadLetter;
  const admin = kafka.admin();
  await admin.connect();
  try {
    return {
      id: id ?? (await registerAvro(createSchemaRegistry(config), `${topic}-value`, schema)),
      schema,
      type,
      maxMessageBytes: await topicMaxMessageBytes(admin, topic),
    };
  } finally {
    await admin.disconnect();
  }
}

export interface RegisteredSchemas {
  raw: Map<string, number>;
  ingest: Map<string, number>;
  deadLetter: number;
  nearDuplicate: number;
}

/**
 * A source's primary entity follows the TopicNameStrategy (`<topic>-value`); its other entities the
 * TopicRecordNameStrategy (`<topic>-<namespace.Name>`), as one topic carries several schemas.
 * Ingest subjects let producers encode with the same contracts. Ids are keyed by entity id.
 */
export async function registerTopologySchemas(registry: SchemaRegistry, topology: Topology, sources: Iterable<CompiledEntity>): Promise<RegisteredSchemas> {
  const names = topicNames(topology.namespace);
  const raw = new Map<string, number>();
  const ingest = new Map<string, number>();
  for (const s of sources) {
    const suffix = s.primary ? 'value' : s.fullName;
    // Raw records carry their personal fields encrypted when the topology encrypts (docs/privacy.md).
    const rawSchema = topology.stages.includes('encrypt') ? s.encrypted.schema : s.schema;
    raw.set(s.id, await registerAvro(registry, `${names.raw(s.source)}-${suffix}`, rawSchema));
    ingest.set(s.id, await registerAvro(registry, `${names.ingest(s.source)}-${suffix}`, s.schema));
  }
  return {
    raw,
    ingest,
    deadLetter: await registerAvro(registry, `${names.deadLetter}-value`, loadSchema('DeadLetter').schema),
    nearDuplicate: await registerAvro(registry, `${names.nearDuplicates}-value`, loadSchema('NearDuplicate').schema),
  };
}
