/** Runs a topology in-process on a namespace of its own, so tests never see each other's topics, groups or Redis keys. */

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { synthetic } from '../../bench/synthetic.js';
import { frame } from '../../src/contracts/framing.js';
import { type LedgerEntry, type LedgerTotals, totalsOf } from '../../src/contracts/ledger.js';
import { HEADER } from '../../src/contracts/lineage.js';
import { type TopicNames, topicNames } from '../../src/contracts/topic-names.js';
import type { Topology } from '../../src/contracts/topology-definition.js';
import { readToEnd } from '../../src/kafka/read-to-end.js';
import { openKeyStore } from '../../src/privacy/key-store.js';
import { pseudonymsFrom } from '../../src/privacy/pseudonyms.js';
import { RecordPrivacy } from '../../src/privacy/records.js';
import { loadSchema } from '../../src/schema/avro.js';
import { compileEntities, compilePrimaryEntity } from '../../src/schema/entity.js';
import { createSchemaRegistry, registerAvro } from '../../src/schema/registry.js';
import { SinkWorker } from '../../src/sinks/sink-worker.js';
import { LocalStore } from '../../src/storage/local-store.js';
import { loadTopology } from '../../src/topology/load.js';
import { TopologyRunner } from '../../src/topology/runner.js';
import { createTopologyTopics, registerTopologySchemas } from '../../src/topology/setup.js';
import { crmProfile, transaction, variant } from '../fixtures/records.js';
import { collect, config, logger } from './kafka.js';

export interface RunningTopology {
  topology: Topology;
  names: TopicNames;
  runner: TopologyRunner;
  stop(): Promise<void>;
}

export function testNamespace(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

/** The bundled topology running in-process; `o.redisUrl` points it at another Redis (a private one a test stops or wipes). */
export async function startTopology(
  namespace: string,
  patch: (t: Topology) => void = () => undefined,
  o: { redisUrl?: string; metrics?: Registry } = {},
): Promise<RunningTopology> {
  const topology = await loadTopology('customer360', { namespace });
  patch(topology);
  const runner = new TopologyRunner({
    config: o.redisUrl ? { ...config, redisUrl: o.redisUrl } : config,
    topology,
    logger,
    metrics: o.metrics ?? new Registry(),
    sessionTimeoutMs: 6_000,
    summaryIntervalMs: 60_000,
  });
  await runner.start();
  return { topology, names: topicNames(namespace), runner, stop: () => runner.stop() };
}

export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

export function json(value: unknown, key?: string): Message {
  return { key: key ?? null, value: JSON.stringify(value) };
}

export async function clearRedis(namespace: string): Promise<void> {
  const redis = new Redis(config.redisUrl);
  try {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** Reads the ledger topic until `done` holds for the totals (every entry is committed with the records it counts). */
export async function waitForLedger(kafka: Kafka, names: TopicNames, done: (t: LedgerTotals) => boolean, timeoutMs = 60_000): Promise<LedgerTotals> {
  let totals = totalsOf([]);
  await collect(
    kafka,
    names.ledger,
    (seen) => {
      totals = totalsOf(seen.map((m) => JSON.parse(m.value!.toString()) as LedgerEntry));
      return done(totals);
    },
    { timeoutMs },
  );
  return totals;
}

/** The ledger's totals as they stand now (every committed entry, read to the topic's end). */
export async function ledgerNow(kafka: Kafka, names: TopicNames): Promise<LedgerTotals> {
  const entries: LedgerEntry[] = [];
  await readToEnd(kafka, names.ledger, (m) => entries.push(JSON.parse(m.value!.toString()) as LedgerEntry));
  return totalsOf(entries);
}

/** A raw record as someone allowed to read it sees it: its personal fields decrypted with the namespace's keys. */
export async function readable(namespace: string, source: string, entityName: string, value: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await readableAll(namespace, source, entityName, [value]))[0]!;
}

/** Raw records as someone allowed to read them sees them, with one key-store connection for all. */
export async function readableAll(
  namespace: string,
  source: string,
  entityName: string,
  values: Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  const topology = await loadTopology('customer360', { namespace });
  const entity = compileEntities(topology.sources.find((s) => s.name === source)!).find((e) => e.name === entityName)!;
  const records = new RecordPrivacy(pseudonymsFrom(config, 'test'));
  const keyStore = openKeyStore(config, namespace);
  try {
    const copies = values.map((v) => structuredClone(v));
    const keys = await keyStore.existingKeys([...new Set(copies.flatMap((c) => records.subjectsIn(entity, c)))]);
    for (const copy of copies) records.decrypt(entity, copy, keys);
    return copies;
  } finally {
    await keyStore.close();
  }
}

/**
 * A namespace with the topology's topics and schemas, and a way to write CRM profiles straight to
 * its crm raw topic, as the topology would have landed them but in plain, under a schema of their
 * own (the raw subject's is the encrypted one): what sink tests feed a sink.
 */
export async function rawCrmTopic(kafka: Kafka): Promise<{ namespace: string; topic: string; messages(from: number, n: number): Message[] }> {
  const namespace = testNamespace();
  const topology = await loadTopology('customer360', { namespace });
  await createTopologyTopics(kafka, topology, config.topics);
  await registerTopologySchemas(createSchemaRegistry(config), topology, topology.sources.map(compilePrimaryEntity));
  const plainId = await registerAvro(createSchemaRegistry(config), `${namespace}.plain-CustomerProfile`, loadSchema('CustomerProfile').schema);
  const type = loadSchema('CustomerProfile').type;
  return {
    namespace,
    topic: topicNames(namespace).raw('crm'),
    messages: (from, n) =>
      Array.from({ length: n }, (_, k) => ({
        key: `C-${from + k}`,
        value: frame(plainId, type.toBuffer({ ...crmProfile, customer_id: `C-${from + k}`, birth_date: 7395, updated_at: Date.UTC(2026, 10, 1) })),
        headers: { [HEADER.ingestId]: `id-${from + k}`, [HEADER.source]: 'crm', [HEADER.receivedAt]: '2026-12-06T10:00:00.000Z' },
      })),
  };
}

/** A sink worker in-process, landing the topology's topics under `root`, with quick idle flushes so tests see files soon. */
export async function startSink(topology: Topology, root: string): Promise<SinkWorker> {
  const sink = new SinkWorker({
    config,
    topology,
    logger,
    metrics: new Registry(),
    store: new LocalStore(root, undefined),
    rotation: { idleFlushMs: 300 },
    sessionTimeoutMs: 3_000,
  });
  await sink.start();
  return sink;
}

/**
 * What the sink tests feed a topology: `n` synthetic CRM and web records (duplicates, defects and
 * near-duplicates among them), and three commerce records — an order, one with a bad currency, and
 * a catalogue product, which lands as a further entity. Returns the ledger once all n + 3 are in.
 */
export async function produceMixedInput(kafka: Kafka, t: RunningTopology, n: number): Promise<LedgerTotals> {
  const registry = createSchemaRegistry(config);
  const mix = synthetic(n, {
    crm: await registry.getLatestSchemaId(`${t.names.ingest('crm')}-value`),
    web: await registry.getLatestSchemaId(`${t.names.ingest('web')}-value`),
  });
  await produce(kafka, t.names.ingest('crm'), mix.crm.messages);
  await produce(kafka, t.names.ingest('web'), mix.web.messages);
  await produce(kafka, t.names.ingest('commerce'), [
    json(transaction, 'T-9001'),
    json(variant(transaction, { transaction_id: 'T-bad', currency: 'XYZ' }), 'T-bad'),
    {
      key: 'P-1',
      value: JSON.stringify({ product_id: 'P-1', sku: 'SKU-1', name: 'Scarf', price: '19.90', currency: 'EUR', updated_at: '2026-11-01T00:00:00Z' }),
      headers: { [HEADER.entity]: 'Product' },
    },
  ]);
  return waitForLedger(kafka, t.names, (l) => l.total.in === n + 3);
}

/** What the topology wrote for produceMixedInput: every message of the crm, web and commerce raw topics, the dead letters and the near-duplicates, by topic. */
export async function mixedOutput(kafka: Kafka, t: RunningTopology, ledger: LedgerTotals): Promise<Map<string, KafkaMessage[]>> {
  const out = new Map<string, KafkaMessage[]>();
  for (const topic of [...['crm', 'web', 'commerce'].map((s) => t.names.raw(s)), t.names.deadLetter, t.names.nearDuplicates]) {
    const n =
      topic === t.names.deadLetter
        ? ledger.total.dead_letter
        : topic === t.names.nearDuplicates
          ? ledger.total.near_duplicates
          : ledger.bySource.get(topic.split('.').pop()!)!.raw;
    out.set(topic, await collect(kafka, topic, (s) => s.length === n));
  }
  return out;
}
