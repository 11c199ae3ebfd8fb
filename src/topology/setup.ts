/** What a topology needs before it runs: its topics (`c360 topics create`) and its schemas (`c360 schemas register`). */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import type { Config, TopicDurability } from '../config.js';
import type { CompatibilityLevel } from '../contracts/compatibility.js';
import type { DeadLetterContract } from '../contracts/dead-letter.js';
import { ConfigError } from '../contracts/errors.js';
import { topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import { ensureTopics, existingTopics, reconcileTopics, type TopicDrift, topicDrift, topicMaxMessageBytes } from '../kafka/topic-admin.js';
import { loadSchema } from '../schema/avro.js';
import type { CompiledEntity } from '../schema/entity.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { topicSpecs } from './topic-specs.js';

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
 * What a worker does with the topology's topics at start: creates the missing ones when
 * C360_CREATE_TOPICS (or --create-topics) asks; otherwise requires them, and names the missing in
 * one sentence. On a managed cluster, topics are created by `c360 topics create` (or the platform's
 * own tooling), not by whichever worker starts first.
 */
export async function prepareTopologyTopics(kafka: Kafka, topology: Topology, config: Pick<Config, 'createTopics' | 'topics'>): Promise<void> {
  if (config.createTopics) {
    await createTopologyTopics(kafka, topology, config.topics);
    return;
  }
  const existing = await existingTopics(kafka);
  const missing = topicSpecs(topology, config.topics)
    .map((s) => s.topic)
    .filter((t) => !existing.has(t));
  if (missing.length > 0) {
    throw new ConfigError(
      `${missing.length} topic${missing.length === 1 ? '' : 's'} of namespace ${topology.namespace} do${missing.length === 1 ? 'es' : ''} not exist (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}): create them with c360 topics create, or let workers create them with C360_CREATE_TOPICS=true (--create-topics).`,
    );
  }
}

/** How the cluster's topics differ from the topology's, and (with `fix`) what could be made to match and what could not. */
export async function topologyTopicDrift(
  kafka: Kafka,
  topology: Topology,
  durability: TopicDurability,
  fix: boolean,
): Promise<{ fixed: TopicDrift[]; left: TopicDrift[] }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const specs = topicSpecs(topology, durability);
    return fix ? await reconcileTopics(admin, specs) : { fixed: [], left: await topicDrift(admin, specs) };
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

/** A subject the topology registers, with its schema and, for an entity's, which entity and layer. */
export interface TopologySubject {
  subject: string;
  schema: Record<string, unknown>;
  entity?: { id: string; layer: 'raw' | 'ingest' };
}

/**
 * Every subject of the topology. A source's primary entity follows the TopicNameStrategy
 * (`<topic>-value`); its other entities the TopicRecordNameStrategy (`<topic>-<namespace.Name>`),
 * as one topic carries several schemas. Ingest subjects let producers encode with the same contracts.
 */
export function topologySubjects(topology: Topology, entities: Iterable<CompiledEntity>): TopologySubject[] {
  const names = topicNames(topology.namespace);
  const subjects: TopologySubject[] = [];
  for (const s of entities) {
    const suffix = s.primary ? 'value' : s.fullName;
    // Raw records carry their personal fields encrypted when the topology encrypts (docs/privacy.md).
    const rawSchema = topology.stages.includes('encrypt') ? s.encrypted.schema : s.schema;
    subjects.push({ subject: `${names.raw(s.source)}-${suffix}`, schema: rawSchema, entity: { id: s.id, layer: 'raw' } });
    subjects.push({ subject: `${names.ingest(s.source)}-${suffix}`, schema: s.schema, entity: { id: s.id, layer: 'ingest' } });
  }
  subjects.push({ subject: `${names.deadLetter}-value`, schema: loadSchema('DeadLetter').schema });
  subjects.push({ subject: `${names.nearDuplicates}-value`, schema: loadSchema('NearDuplicate').schema });
  return subjects;
}

/** Registers every subject of the topology (idempotent) at the compatibility level given; ids of entity subjects are keyed by entity id. */
export async function registerTopologySchemas(
  registry: SchemaRegistry,
  topology: Topology,
  entities: Iterable<CompiledEntity>,
  compatibility: CompatibilityLevel = 'BACKWARD',
): Promise<RegisteredSchemas> {
  const names = topicNames(topology.namespace);
  const registered: RegisteredSchemas = { raw: new Map(), ingest: new Map(), deadLetter: 0, nearDuplicate: 0 };
  for (const s of topologySubjects(topology, entities)) {
    const id = await registerAvro(registry, s.subject, s.schema, compatibility);
    if (s.entity) registered[s.entity.layer].set(s.entity.id, id);
    else if (s.subject === `${names.deadLetter}-value`) registered.deadLetter = id;
    else registered.nearDuplicate = id;
  }
  return registered;
}
