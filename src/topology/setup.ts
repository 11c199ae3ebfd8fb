/** What a topology needs before it runs: its topics (`c360 topics create`) and its schemas (`c360 schemas register`). */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Admin } from 'kafkajs';
import { ensureTopics } from '../kafka/topics.js';
import { loadSchema } from '../schema/avro.js';
import { registerAvro } from '../schema/registry.js';
import type { CompiledSource } from './compiled-source.js';
import type { Topology } from './definition.js';
import { topicNames, topicSpecs } from './topics.js';

export function createTopologyTopics(admin: Admin, topology: Topology): Promise<string[]> {
  return ensureTopics(admin, topicSpecs(topology));
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
export async function registerTopologySchemas(registry: SchemaRegistry, topology: Topology, sources: Iterable<CompiledSource>): Promise<RegisteredSchemas> {
  const names = topicNames(topology.namespace);
  const raw = new Map<string, number>();
  const ingest = new Map<string, number>();
  for (const s of sources) {
    const suffix = s.primary ? 'value' : s.fullName;
    raw.set(s.id, await registerAvro(registry, `${names.raw(s.name)}-${suffix}`, s.schema));
    ingest.set(s.id, await registerAvro(registry, `${names.ingest(s.name)}-${suffix}`, s.schema));
  }
  return {
    raw,
    ingest,
    deadLetter: await registerAvro(registry, `${names.deadLetter}-value`, loadSchema('DeadLetter').schema),
    nearDuplicate: await registerAvro(registry, `${names.nearDuplicates}-value`, loadSchema('NearDuplicate').schema),
  };
}
