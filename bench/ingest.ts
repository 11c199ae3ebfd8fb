/**
 * bench:ingest — rows/s and peak memory of `c360 ingest` (a child process) on a generated CSV of
 * BENCH_RECORDS rows (default 1,000,000; BENCH_BATCH_ROWS rows per transaction, default 2,000), against two baselines in the same run: the same file
 * through csv-parse alone, rows counted and dropped; and the client's floor — csv-parse and the
 * project's Kafka client sending every row as JSON with the ingest's six lineage headers, in
 * transactions of as many rows with one in flight, as `c360 ingest` sends them, but with no mapping,
 * no lineage to work out and no checkpoint. All are timed from process start.
 */

import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse';
import type { Message } from 'kafkajs';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { loadConfig } from '../src/config.js';
import { HEADER, lineageHeaders } from '../src/contracts/lineage.js';
import { projectRoot } from '../src/contracts/project.js';
import { DEFAULT_BATCH_ROWS } from '../src/extraction/file-ingest.js';
import { createKafka } from '../src/kafka/client.js';
import { sendTransaction } from '../src/kafka/send.js';
import { ensureTopics } from '../src/kafka/topic-admin.js';
import { exclusiveProducer } from '../src/kafka/transactional.js';
import { createLogger } from '../src/observability/logger.js';
import { kafkaAnswers, registryAnswers } from '../src/observability/probes.js';
import { childBudget, timeChild } from './child.js';
import { dropTopics } from './cleanup.js';

// Benchmarks run on the local stack's single broker: one replica per topic, created by the workers (unless the environment says otherwise).
localStackDefaults();

const TOTAL = Number(process.env.BENCH_RECORDS ?? 1_000_000);

async function parseOnly(file: string): Promise<void> {
  let rows = 0;
  for await (const _ of fs.createReadStream(file).pipe(parse({ bom: true, relax_column_count: true, relax_quotes: true }))) rows++;
  if (rows !== TOTAL + 1) throw new Error(`parsed ${rows} records`);
}

/** Rows per transaction of both the ingest and the floor (BENCH_BATCH_ROWS): by default `c360 ingest`'s own. */
const BATCH_ROWS = Number(process.env.BENCH_BATCH_ROWS ?? DEFAULT_BATCH_ROWS);

async function parseAndProduce(file: string, topic: string): Promise<void> {
  const kafka = createKafka(loadConfig(), createLogger('warn'), 'bench-floor');
  const producer = await exclusiveProducer(kafka, `${topic}.producer`);
  // The ingest's lineage headers, made by the same function, without its work per row (a SHA-1 ingest id).
  const ingestId = '00000000-0000-5000-8000-000000000000';
  const sha256 = '0'.repeat(64);
  const receivedAt = Date.now();
  let batch: Message[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  let rows = 0;
  const flush = async () => {
    const messages = batch;
    batch = [];
    await inFlight;
    inFlight = sendTransaction(producer, [{ topic, messages }]);
    // Awaited by the next flush or at the end; not unhandled while the next batch is parsed.
    inFlight.catch(() => undefined);
  };
  const csv = fs.createReadStream(file).pipe(parse({ bom: true, columns: true, relax_column_count: true, relax_quotes: true }));
  for await (const row of csv as AsyncIterable<Record<string, string>>) {
    rows++;
    batch.push({
      key: row.customer_id ?? null,
      value: JSON.stringify(row),
      headers: {
        ...lineageHeaders({ ingestId, source: 'crm', sourceKind: 'batch', receivedAt, origin: `{"file":"crm.csv","sha256":"${sha256}","row":${rows}}` }),
        [HEADER.entity]: 'CustomerProfile',
      },
    });
    if (batch.length === BATCH_ROWS) await flush();
  }
  if (batch.length > 0) await flush();
  await inFlight;
  await producer.disconnect();
  if (rows !== TOTAL) throw new Error(`sent ${rows} rows`);
}

async function writeCsv(file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  out.write(
    'customer_id,email,first_name,last_name,phone,birth_date,address.line1,address.city,address.country,address.postal_code,loyalty_tier,loyalty_points,marketing_consent,updated_at\n',
  );
  for (let i = 0; i < TOTAL; i++) {
    const line = `C-${i},customer${i}@example.com,Ann,Lee${i % 997},+35386${String(1_000_000 + (i % 9_000_000))},1990-04-01,"${i} Main St, Dock",Dublin,IE,D02 X285,SILVER,${i % 5000},${i % 2 === 0},2026-11-01T10:00:00Z\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  if (process.argv[2] === '--parse-only') return parseOnly(process.argv[3]!);
  if (process.argv[2] === '--parse-and-produce') return parseAndProduce(process.argv[3]!, process.argv[4]!);
  const config = loadConfig();
  if (!(await kafkaAnswers(config.kafka)) || !(await registryAnswers(config.schemaRegistry))) {
    console.error('bench: the stack does not answer; start it with `npx c360 stack up`.');
    process.exit(1);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-bench-ingest-'));
  const file = path.join(dir, 'crm.csv');
  await writeCsv(file);
  const mib = fs.statSync(file).size / 2 ** 20;
  console.log(`generated ${TOTAL} CSV rows (${mib.toFixed(0)} MiB)`);
  const namespace = `bench${Date.now().toString(36)}`;
  const baseline = await timeChild([new URL(import.meta.url).pathname, '--parse-only', file]);
  const kafka = createKafka(config, createLogger('warn'), 'bench');
  const admin = kafka.admin();
  await admin.connect();
  const floorTopic = `${namespace}.floor`;
  // As many partitions as a topology's ingest topic has by default.
  await ensureTopics(admin, [{ topic: floorTopic, numPartitions: 3 }]);
  await admin.disconnect();
  const floor = await timeChild([new URL(import.meta.url).pathname, '--parse-and-produce', file, floorTopic]);
  const ingest = await timeChild([
    path.join(projectRoot(), 'bin', 'c360.js'),
    'ingest',
    file,
    '--source',
    'crm',
    '--namespace',
    namespace,
    '--batch-rows',
    String(BATCH_ROWS),
  ]);
  const rate = (m: { ms: number }) => TOTAL / (m.ms / 1000);
  console.log(
    `baseline     csv-parse alone: ${(baseline.ms / 1000).toFixed(1)} s = ${Math.round(rate(baseline))} rows/s; peak RSS ${baseline.peakRssMiB.toFixed(0)} MiB`,
  );
  console.log(
    `ingest       c360 ingest into Kafka: ${(ingest.ms / 1000).toFixed(1)} s = ${Math.round(rate(ingest))} rows/s; peak RSS ${ingest.peakRssMiB.toFixed(0)} MiB (${childBudget()})`,
  );
  console.log(
    `floor        csv-parse + KafkaJS sending the rows as JSON with lineage headers, in transactions: ${(floor.ms / 1000).toFixed(1)} s = ${Math.round(rate(floor))} rows/s; peak RSS ${floor.peakRssMiB.toFixed(0)} MiB (Node's own heap limits)`,
  );
  console.log(
    `ratio        ingest / baseline = ${(rate(ingest) / rate(baseline)).toFixed(2)}; floor / baseline = ${(rate(floor) / rate(baseline)).toFixed(2)}; ingest / floor = ${(rate(ingest) / rate(floor)).toFixed(2)}`,
  );
  await dropTopics(kafka, [namespace]);
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
