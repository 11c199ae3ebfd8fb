/**
 * bench:privacy — what sealing free-form fields costs per record, and what erasure and access
 * cost against the size of the raw layer. First it times the encrypt stage's work on Segment-like
 * web events (BENCH_FREE_FORM_RECORDS, default 200,000) two ways in the same run: with the contract
 * as it is (properties, page and referrer URLs sealed as a whole and scanned for identifiers) and
 * with those three fields in clear (the baseline). Then it lands
 * BENCH_RECORDS (default 1,000,000) encrypted CRM records of BENCH_RECORDS/10 people (their data
 * keys in the PostgreSQL key store, their identifiers linked, as the encrypt stage leaves them)
 * through a sink worker, then times `forget` of one person (keys, suppression, Redis, the erasure
 * log: independent of the layer's size) and `export` of one person (a scan of the whole layer).
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { loadConfig } from '../src/config.js';
import { frame } from '../src/contracts/framing.js';
import { HEADER } from '../src/contracts/lineage.js';
import { topicNames } from '../src/contracts/topic-names.js';
import { createKafka } from '../src/kafka/client.js';
import { createLogger } from '../src/observability/logger.js';
import { kafkaAnswers, registryAnswers } from '../src/observability/probes.js';
import { forgetPerson, nearDuplicateErasure } from '../src/privacy/erasure.js';
import { openKeyStore } from '../src/privacy/key-store.js';
import { PrivacyLog } from '../src/privacy/privacy-log.js';
import { pseudonymsFrom } from '../src/privacy/pseudonyms.js';
import { type RawLayer, readRawLayer } from '../src/privacy/raw-reader.js';
import { RecordPrivacy } from '../src/privacy/records.js';
import { compilePrimaryEntity } from '../src/schema/entity.js';
import { createSchemaRegistry } from '../src/schema/registry.js';
import { folderFiles } from '../src/sinks/layer-files.js';
import { SinkWorker } from '../src/sinks/sink-worker.js';
import { LocalStore } from '../src/storage/local-store.js';
import { createRedis } from '../src/storage/redis.js';
import { loadTopology } from '../src/topology/load.js';
import { createTopologyTopics, registerTopologySchemas } from '../src/topology/setup.js';
import { dropRedisKeys, dropTopics } from './cleanup.js';
import { rawCrmProfile } from './synthetic.js';

// Benchmarks run on the local stack's single broker: one replica per topic, created by the workers (unless the environment says otherwise).
localStackDefaults();

const TOTAL = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const PEOPLE = Math.max(1, Math.floor(TOTAL / 10));
const config = loadConfig();
const logger = createLogger('warn');
const kafka = createKafka(config, logger, 'bench');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

if (!(await kafkaAnswers(config.kafka)) || !(await registryAnswers(config.schemaRegistry))) {
  console.error('bench: the stack does not answer; start it with `npx c360 stack up`.');
  process.exit(1);
}
const records = new RecordPrivacy(pseudonymsFrom(config, 'bench:privacy'));

// Sealing free-form fields: CPU per record of the encrypt stage's work (the person's identifiers, then the encryption), sealed and in clear.
{
  const n = Number(process.env.BENCH_FREE_FORM_RECORDS ?? 200_000);
  const webTopology = await loadTopology('customer360');
  const sealed = compilePrimaryEntity(webTopology.sources.find((s) => s.name === 'web')!);
  const FREE_FORM = new Set(['properties', 'page_url', 'referrer']);
  const clear = { ...sealed, id: 'web-baseline', personal: sealed.personal.filter((f) => !FREE_FORM.has(f.path)) };
  const key = randomBytes(32);
  const events = (): Record<string, unknown>[] =>
    Array.from(
      { length: n },
      (_, i) =>
        sealed.coerceJson({
          event_id: `ev-${i}`,
          event_type: 'TRACK',
          occurred_at: Date.UTC(2026, 10, 1) + i,
          customer_id: `C-${i % 5000}`,
          anonymous_id: `anon-${i % 7000}`,
          page_url: `https://shop.example/p/${i % 1000}?utm_source=mail&utm_campaign=winter${i % 10 === 0 ? `&email=customer${i}%40example.com` : ''}`,
          referrer: 'https://search.example/?q=boots',
          properties: {
            title: 'Winter boots',
            sku: `SKU-${i % 1000}`,
            price: '79.90',
            currency: 'EUR',
            ...(i % 10 === 3 ? { email: `customer${i}@example.com` } : {}),
          },
          event_name: 'Product Viewed',
        }).value as Record<string, unknown>,
    );
  const time = (entity: typeof sealed) => {
    const batch = events();
    const before = process.cpuUsage();
    for (const value of batch) records.encrypt(entity, value, records.personOf(entity, value).subject, key);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };
  // Alternated, twice each, so warm-up and the machine's drift fall on both.
  const runs = { clear: [] as number[], sealed: [] as number[] };
  for (let round = 0; round < 2; round++) {
    runs.clear.push(time(clear));
    runs.sealed.push(time(sealed));
  }
  const best = (xs: number[]) => Math.min(...xs);
  console.log(
    `free-form    ${n} web events: ${best(runs.sealed).toFixed(1)} µs CPU/record sealed and scanned vs ${best(runs.clear).toFixed(1)} µs in clear (×${(best(runs.sealed) / best(runs.clear)).toFixed(2)}); runs ${runs.sealed.map((x) => x.toFixed(1)).join('/')} vs ${runs.clear.map((x) => x.toFixed(1)).join('/')}`,
  );
}

const namespace = `bench${Date.now().toString(36)}`;
const topology = await loadTopology('customer360', { namespace });
topology.sources = topology.sources.filter((s) => s.name === 'crm');
await createTopologyTopics(kafka, topology, config.topics);
const ids = await registerTopologySchemas(createSchemaRegistry(config), topology, topology.sources.map(compilePrimaryEntity));
const entity = compilePrimaryEntity(topology.sources[0]!);
const keyStore = openKeyStore(config, namespace);
const person = (i: number) => i % PEOPLE;
const profile = (i: number) => rawCrmProfile(i, person(i));

// The people's keys and links, as the encrypt stage makes them.
let t0 = performance.now();
const keys = new Map<string, Buffer>();
for (let p = 0; p < PEOPLE; p += 5_000) {
  const batch = Array.from({ length: Math.min(5_000, PEOPLE - p) }, (_, k) => profile(p + k));
  const people = batch.map((v) => records.personOf(entity, v));
  const admission = await keyStore.admit(people.map(({ subject, identifiers }) => ({ subject, identifiers, unlinked: identifiers })));
  for (const [s, k] of admission.keys) keys.set(s, k);
}
console.log(`key store    ${PEOPLE} people's keys made and identifiers linked in ${seconds(performance.now() - t0)}`);

t0 = performance.now();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const receivedAt = new Date().toISOString();
for (let i = 0; i < TOTAL; i += 5_000) {
  const messages: Message[] = [];
  for (let j = i; j < Math.min(i + 5_000, TOTAL); j++) {
    const value = profile(j);
    const { subject } = records.personOf(entity, value);
    records.encrypt(entity, value, subject, keys.get(subject)!);
    messages.push({
      key: `C-${person(j)}`,
      value: frame(ids.raw.get('crm')!, entity.encrypted.type.toBuffer(value)),
      headers: { [HEADER.ingestId]: `bench-${j}`, [HEADER.source]: 'crm', [HEADER.receivedAt]: receivedAt },
    });
  }
  await producer.send({ topic: topicNames(namespace).raw('crm'), acks: -1, messages });
}
await producer.disconnect();
console.log(`produced     ${TOTAL} encrypted raw records in ${seconds(performance.now() - t0)}`);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-bench-privacy-'));
const sink = new SinkWorker({ config, topology, logger, metrics: new Registry(), store: new LocalStore(root, undefined), rotation: { idleFlushMs: 500 } });
t0 = performance.now();
await sink.start();
const landed = () => {
  const dir = path.join(root, 'raw');
  if (!fs.existsSync(dir)) return 0;
  let rows = 0;
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (f.includes(`_manifest${path.sep}`) && f.endsWith('.json')) rows += (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { rows: number }).rows;
  }
  return rows;
};
while (landed() < TOTAL) await new Promise((r) => setTimeout(r, 1_000));
await sink.stop();
console.log(`raw layer    ${TOTAL} rows landed in ${seconds(performance.now() - t0)}`);

const store = new LocalStore(root, undefined);
// The layer holds one entity; the store is this run's folder.
const layer: RawLayer = { files: folderFiles(store), store, keyStore, records, entity: () => entity, close: async () => undefined };
const one = records.identifier('email', 'customer42@example.com')!;

t0 = performance.now();
const { subjects } = await keyStore.reach([one]);
let exported = 0;
for await (const _ of readRawLayer(layer, { subjects: new Set(subjects) })) exported++;
const exportMs = performance.now() - t0;
console.log(
  `export       one person's ${exported} records found in ${TOTAL} rows in ${seconds(exportMs)} (${Math.round(TOTAL / (exportMs / 1000))} rows scanned/s)`,
);

const redis = createRedis(config, logger);
await redis.connect();
t0 = performance.now();
const nearDuplicates = nearDuplicateErasure(kafka, topology);
const outcome = await forgetPerson({ keyStore, redis, log: new PrivacyLog(store, namespace), namespace, nearDuplicates, identifiers: [one] });
const forgetMs = performance.now() - t0;
console.log(
  `forget       one person (${outcome.subjects.length} subject, ${outcome.keysDeleted} key, ${outcome.identifiers.length} identifiers suppressed) in ${forgetMs.toFixed(0)} ms, whatever the layer's size`,
);

t0 = performance.now();
let unreadable = 0;
for await (const row of readRawLayer(layer, { subjects: new Set(subjects) })) if (row.forgotten) unreadable++;
console.log(
  `afterwards   ${unreadable} of ${exported} rows of that person unreadable (checked in ${seconds(performance.now() - t0)}); peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
);

redis.disconnect();
await keyStore.close();
store.close();
fs.rmSync(root, { recursive: true, force: true });
await dropTopics(kafka, [namespace]);
const cleanup = createRedis(config, logger);
await cleanup.connect();
await dropRedisKeys(cleanup, namespace);
cleanup.disconnect();
if (exported !== 10 || unreadable !== exported) process.exit(1);
