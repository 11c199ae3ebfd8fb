/** Stages in-process without services: envelopes from fixtures, a stage context whose Redis never connects. */

import { Redis } from 'ioredis';
import type { KafkaMessage } from 'kafkajs';
import { loadConfig } from '../../src/config.js';
import { checkLineage } from '../../src/contracts/lineage.js';
import type { Topology } from '../../src/contracts/topology-definition.js';
import { Pseudonyms } from '../../src/privacy/pseudonyms.js';
import { type CompiledEntity, compileEntities } from '../../src/schema/entity.js';
import { WriterSchemas } from '../../src/schema/registry.js';
import { type Envelope, newEnvelope } from '../../src/stages/envelope.js';
import type { StageContext } from '../../src/stages/stage.js';
import type { ReadChangelog } from '../../src/storage/state-changelog.js';
import { validateTopology } from '../../src/topology/load.js';
import bundled from '../../topologies/customer360.js';

export const NOW = Date.parse('2026-11-27T12:00:00Z');

/** A state changelog with nothing in it: stages tested without Kafka start their Redis state empty. */
export const emptyChangelog: ReadChangelog = async () => undefined;

/** The bundled topology's stage context, or another topology's. */
export function offlineContext(input: unknown = bundled): StageContext & { topology: Topology } {
  const topology = validateTopology(input, { namespace: 'unit' });
  const entitiesOfSource = new Map(topology.sources.map((s) => [s.name, compileEntities(s)]));
  return {
    topology,
    entities: new Map([...entitiesOfSource.values()].flat().map((e) => [e.id, e])),
    entitiesOfSource,
    // Never connected: a stage that reached Redis here would fail the test.
    redis: new Redis({ lazyConnect: true, enableOfflineQueue: false }),
    writerSchemas: new WriterSchemas(loadConfig({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' })),
    pseudonyms: new Pseudonyms(Buffer.alloc(32, 7)),
    keyStore: undefined,
    cacheEntries: 100_000,
    readChangelog: emptyChangelog,
    now: () => NOW,
  };
}

let offset = 0;

/** An envelope as the runner makes one: a message on the source's ingest topic, with lineage read from it. */
export function envelopeOf(entity: CompiledEntity, value: Buffer | string | null, headers: Record<string, string> = {}, key: string | null = null): Envelope {
  const message = {
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
    offset: String(offset++),
    timestamp: String(NOW),
    attributes: 0,
  } satisfies KafkaMessage;
  const topic = `unit.ingest.${entity.source}`;
  const { lineage, problem } = checkLineage(message, topic, 0, entity.source);
  return newEnvelope(entity, topic, 0, message, lineage, problem);
}
