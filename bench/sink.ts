/**
 * bench:sink — records/s and peak memory of one sink worker (`c360 sink`, a child process) landing
 * a pre-produced raw topic in Parquet, and then as an Iceberg table in the stack's REST catalog,
 * against a baseline measured in the same run: a plain
 * KafkaJS consumer (same client, same fetch sizes, read_committed) that only counts the records.
 * Both are timed from process start to the last record, so start-up and group join are in both.
 * BENCH_RECORDS sets the size (default 1,000,000).
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Message } from 'kafkajs';
import { CATALOG_URL } from '../dev/stack/catalog.js';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { S3_URL } from '../dev/stack/s3.js';
import { loadConfig } from '../src/config.js';
import { frame } from '../src/contracts/framing.js';
import { HEADER } from '../src/contracts/lineage.js';
import { projectRoot } from '../src/contracts/project.js';
import { topicNames } from '../src/contracts/topic-names.js';
import { RestCatalog } from '../src/iceberg/rest-catalog.js';
import { mainSnapshot } from '../src/iceberg/table-metadata.js';
import { createKafka } from '../src/kafka/client.js';
import { createLogger } from '../src/observability/logger.js';
import { kafkaAnswers, registryAnswers } from '../src/observability/probes.js';
import { Pseudonyms } from '../src/privacy/pseudonyms.js';
import { RecordPrivacy } from '../src/privacy/records.js';
import { compilePrimaryEntity } from '../src/schema/entity.js';
import { createSchemaRegistry } from '../src/schema/registry.js';
import { loadTopology } from '../src/topology/load.js';
import { createTopologyTopics, registerTopologySchemas } from '../src/topology/setup.js';
import { childBudget, timeChild } from './child.js';
import { dropTopics } from './cleanup.js';
import { rawCrmProfile } from './synthetic.js';

// Benchmarks run on the local stack's single broker: one replica per topic, created by the workers (unless the environment says otherwise).
localStackDefaults();

const TOTAL = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const config = loadConfig();
const logger = createLogger('warn');
const kafka = createKafka(config, logger, 'bench');

/** The baseline: count the topic's records with the sink's consumer settings, then exit. */
async function drain(topic: string, total: number): Promise<void> {
  const consumer = kafka.consumer({ groupId: `${topic}.bench-drain`, maxBytesPerPartition: 4 * 1024 * 1024, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
}

async function produceRaw(namespace: string): Promise<{ topic: string; ms: number }> {
  const topology = await loadTopology('customer360', { namespace });
  topology.sources = topology.sources.filter((s) => s.name === 'crm');
  await createTopologyTopics(kafka, topology, config.topics);
  const ids = await registerTopologySchemas(createSchemaRegistry(config), topology, topology.sources.map(compilePrimaryEntity));
  // Raw records as the topology writes them: personal fields encrypted (one data key per subject, as customers are).
  const entity = compilePrimaryEntity(topology.sources[0]!);
  const records = new RecordPrivacy(new Pseudonyms(randomBytes(32)));
  const encrypted = (j: number) => {
    const value = rawCrmProfile(j);
    records.encrypt(entity, value, records.personOf(entity, value).subject, randomBytes(32));
    return entity.encrypted.type.toBuffer(value);
  };
  const topic = topicNames(namespace).raw('crm');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const t0 = performance.now();
  const receivedAt = new Date().toISOString();
  for (let i = 0; i < TOTAL; i += 5000) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(i + 5000, TOTAL); j++) {
      messages.push({
        key: `C-${j}`,
        value: frame(ids.raw.get('crm')!, encrypted(j)),
        headers: {
          [HEADER.ingestId]: `bench-${j}`,
          [HEADER.source]: 'crm',
          [HEADER.sourceKind]: 'batch',
          [HEADER.receivedAt]: receivedAt,
          [HEADER.origin]: `{"file":"bench.csv","row":${j + 2}}`,
        },
      });
    }
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
  return { topic, ms: performance.now() - t0 };
}

function manifestRows(root: string): number {
  let rows = 0;
  const dir = path.join(root, 'raw');
  if (!fs.existsSync(dir)) return 0;
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (f.includes(`_manifest${path.sep}`) && f.endsWith('.json')) rows += (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { rows: number }).rows;
  }
  return rows;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--drain') return drain(process.argv[3]!, Number(process.argv[4]));
  if (!(await kafkaAnswers(config.kafka)) || !(await registryAnswers(config.schemaRegistry))) {
    console.error('bench: the stack does not answer; start it with `npx c360 stack up`.');
    process.exit(1);
  }
  const namespace = `bench${Date.now().toString(36)}`;
  const { topic, ms } = await produceRaw(namespace);
  console.log(`produced ${TOTAL} raw CRM records to ${topic} in ${(ms / 1000).toFixed(1)} s`);

  const baseline = await timeChild([fileUrlPath(), '--drain', topic, String(TOTAL)]);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-bench-sink-'));
  let polled = 0;
  const sink = await timeChild(
    [path.join(projectRoot(), 'bin', 'c360.js'), 'sink', '--namespace', namespace, '--storage', root, '--ops-port', '0', '--idle-flush-ms', '500'],
    () => {
      if (++polled % 5 !== 0) return false;
      return manifestRows(root) >= TOTAL;
    },
  );
  const bytes = (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.parquet'))
    .reduce((n, f) => n + fs.statSync(path.join(root, f)).size, 0);
  const rate = (m: { ms: number }) => TOTAL / (m.ms / 1000);
  console.log(
    `baseline     ${TOTAL} records consumed and counted in ${(baseline.ms / 1000).toFixed(1)} s = ${Math.round(rate(baseline))} records/s; peak RSS ${baseline.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(
    `sink         ${TOTAL} records landed in Parquet in ${(sink.ms / 1000).toFixed(1)} s = ${Math.round(rate(sink))} records/s; ${((sink.cpuSeconds * 1e6) / TOTAL).toFixed(1)} µs CPU per record; peak RSS ${sink.peakRssMiB.toFixed(0)} MiB (${childBudget()}); ${(bytes / 2 ** 20).toFixed(0)} MiB of Parquet`,
  );
  console.log(`ratio        sink / baseline = ${(rate(sink) / rate(baseline)).toFixed(2)}`);
  const rows = manifestRows(root);
  console.log(`manifests    ${rows} rows ${rows === TOTAL ? '(every record, once)' : `(EXPECTED ${TOTAL})`}`);
  const tableRows = await tableSink(namespace, root, rate(baseline), rate(sink));
  fs.rmSync(root, { recursive: true, force: true });
  await dropTopics(kafka, [namespace]);
  if (rows !== TOTAL || tableRows !== TOTAL) process.exit(1);
}

/**
 * The same topic landed as an Iceberg table (a second group, `c360 sink` with C360_CATALOG_URL) in
 * the stack's REST catalog, its warehouse on S3Mock; rows counted from the table's newest snapshot.
 */
async function tableSink(namespace: string, root: string, baselineRate: number, folderRate: number): Promise<number> {
  const url = config.catalog?.url ?? CATALOG_URL;
  const catalog = new RestCatalog({ url, timeoutMs: 30_000 });
  let rows = 0;
  const poll = setInterval(() => {
    void catalog
      .loadTable(namespace, 'raw_crm')
      .then((t) => {
        rows = Number((t && mainSnapshot(t.metadata)?.summary['total-records']) ?? 0);
      })
      .catch(() => undefined);
  }, 500);
  const env = {
    C360_CATALOG_URL: url,
    C360_S3_ENDPOINT: config.s3.endpoint ?? S3_URL,
    C360_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'c360-bench',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'c360-bench',
  };
  const args = ['sink', '--namespace', namespace, '--group', `${namespace}.sink-tables`, '--storage', root, '--ops-port', '0', '--idle-flush-ms', '500'];
  const run = await timeChild([path.join(projectRoot(), 'bin', 'c360.js'), ...args], () => rows >= TOTAL, env);
  clearInterval(poll);
  const rate = TOTAL / (run.ms / 1000);
  console.log(
    `table sink   ${TOTAL} records committed to ${namespace}.raw_crm in ${(run.ms / 1000).toFixed(1)} s = ${Math.round(rate)} records/s; ${((run.cpuSeconds * 1e6) / TOTAL).toFixed(1)} µs CPU per record; peak RSS ${run.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(`ratio        table sink / baseline = ${(rate / baselineRate).toFixed(2)}, table sink / Parquet sink = ${(rate / folderRate).toFixed(2)}`);
  console.log(`table        ${rows} rows ${rows === TOTAL ? '(every record, once)' : `(EXPECTED ${TOTAL})`}`);
  return rows;
}

function fileUrlPath(): string {
  return new URL(import.meta.url).pathname;
}

await main();
