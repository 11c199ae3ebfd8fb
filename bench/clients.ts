/**
 * bench:clients — the Kafka client, chosen by measurement (issue 16): the same transactional
 * consume → produce loop (read a batch, write its records to another topic and the batch's
 * offsets in one transaction, commit, read_committed) with the patched KafkaJS the project uses
 * and with @platformatic/kafka, on the same pre-produced input, one after the other in one run.
 * Prints records/s, CPU µs per record (this process and the broker) and peak RSS for each.
 * BENCH_RECORDS sets the size (default 200,000), BENCH_BATCH the records per @platformatic/kafka transaction (default 2,000;
 * KafkaJS takes what one fetch of a partition brings).
 */
import { type Message, Consumer as PlatformaticConsumer, Producer as PlatformaticProducer } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { localStackDefaults } from '../dev/stack/ensure.js';
import { loadConfig } from '../src/config.js';
import { createKafka } from '../src/kafka/client.js';
import { sendInRequests } from '../src/kafka/send.js';
import { ensureTopics } from '../src/kafka/topic-admin.js';
import { createLogger } from '../src/observability/logger.js';
import { kafkaAnswers } from '../src/observability/probes.js';
import { dropTopics } from './cleanup.js';
import { cpuMeter, describeCpu } from './cpu.js';
import { synthetic } from './synthetic.js';

localStackDefaults();

const TOTAL = Number(process.env.BENCH_RECORDS ?? 200_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 2_000);
const config = loadConfig();
const kafka = createKafka(config, createLogger('warn'), 'bench-clients');
const ns = `bench-clients-${Date.now().toString(36)}`;
const input = `${ns}.in`;

if (!(await kafkaAnswers(config.kafka))) {
  console.error('bench: Kafka does not answer; start the stack with `npx c360 stack up`.');
  process.exit(1);
}
const redis = new Redis(config.redisUrl);
const startCpu = await cpuMeter(config, redis);

const admin = kafka.admin();
await admin.connect();
await ensureTopics(
  admin,
  [input, `${ns}.out-kafkajs`, `${ns}.out-platformatic`].map((topic) => ({ topic, numPartitions: 3 })),
);
await admin.disconnect();
{
  const data = synthetic(TOTAL, { crm: 1, web: 2 });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = [...data.crm.messages, ...data.web.messages].map((m, i) => ({ ...m, headers: { 'c360.ingest_id': `id-${i}`, 'c360.source': 'bench' } }));
  for (let i = 0; i < messages.length; i += 5_000) await producer.send({ topic: input, acks: -1, messages: messages.slice(i, i + 5_000) });
  await producer.disconnect();
}

async function measure(label: string, run: () => Promise<void>): Promise<void> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const cpu = startCpu();
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  const used = cpu.read();
  delete used.redis;
  console.log(
    `${label.padEnd(20)} ${TOTAL} records in ${seconds.toFixed(1)} s = ${Math.round(TOTAL / seconds)} records/s; peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log(`${''.padEnd(20)} ${describeCpu(used, TOTAL)}`);
}

/** KafkaJS (patched, as in src/kafka): eachBatch, one transaction per batch with its offsets. */
async function viaKafkajs(): Promise<void> {
  const groupId = `${ns}.kafkajs`;
  const output = `${ns}.out-kafkajs`;
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 16 * 1024 * 1024, readUncommitted: false });
  const producer = kafka.producer({ transactionalId: `${ns}.kafkajs`, idempotent: true, maxInFlightRequests: 1 });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const tx = await producer.transaction();
          // In requests under the broker's message.max.bytes, as the project sends (src/kafka/send.ts).
          await sendInRequests(tx, [{ topic: output, messages: batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })) }]);
          await tx.sendOffsets({
            consumerGroupId: groupId,
            topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }] }],
          });
          await tx.commit();
          done += batch.messages.length;
          if (done >= TOTAL) resolve();
        },
      })
      .catch(reject);
  });
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
}

/** @platformatic/kafka 2.x: the message stream, one transaction per BATCH records with the consumer's offsets. */
async function viaPlatformatic(): Promise<void> {
  const bootstrapBrokers = config.kafka.brokers;
  const consumer = new PlatformaticConsumer({
    clientId: 'bench-clients',
    groupId: `${ns}.platformatic`,
    bootstrapBrokers,
    autocommit: false,
    maxBytes: 16 * 1024 * 1024,
    maxBytesPerPartition: 4 * 1024 * 1024,
    isolationLevel: 1,
  });
  // retryDelay 20 ms, as the Java client backs off: each transaction's first AddOffsetsToTxn meets the previous one's
  // CONCURRENT_TRANSACTIONS, and the default 250 ms wait would make this loop many times slower.
  const producer = new PlatformaticProducer({
    clientId: 'bench-clients',
    bootstrapBrokers,
    retryDelay: 20,
    idempotent: true,
    transactionalId: `${ns}.platformatic`,
    acks: -1,
  });
  const output = `${ns}.out-platformatic`;
  const stream = await consumer.consume({ topics: [input], mode: 'earliest' });
  let done = 0;
  let batch: Message<Buffer, Buffer, Buffer, Buffer>[] = [];
  for await (const message of stream) {
    batch.push(message);
    if (batch.length < BATCH && done + batch.length < TOTAL) continue;
    const tx = await producer.beginTransaction();
    await tx.addConsumer(consumer);
    await tx.send({ messages: batch.map((m) => ({ topic: output, key: m.key, value: m.value, headers: m.headers })) });
    // The last message of each partition carries the offsets to commit.
    const last = new Map<number, Message<Buffer, Buffer, Buffer, Buffer>>();
    for (const m of batch) last.set(m.partition, m);
    for (const m of last.values()) await tx.addOffset(m);
    await tx.commit();
    done += batch.length;
    batch = [];
    if (done >= TOTAL) break;
  }
  await stream.close();
  await Promise.all([consumer.close(), producer.close()]);
}

console.log(`bench:clients — ${TOTAL} records (half CRM profiles, half web events, Avro), transactional consume → produce, Node ${process.version}`);
await measure('KafkaJS 2.2.4 patched', viaKafkajs);
await measure('@platformatic/kafka', viaPlatformatic);
redis.disconnect();
await dropTopics(kafka, [ns]);
process.exit(0);
