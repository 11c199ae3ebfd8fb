/** Helpers for integration tests: unique topic names, topic creation, and collecting what a consumer sees. */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';
import { localStackDefaults } from '../../dev/stack/ensure.js';
import { KAFKA_PORT, LOOPBACK } from '../../dev/stack/versions.js';
import { loadConfig } from '../../src/config.js';
import { createKafka } from '../../src/kafka/client.js';
import { ensureTopics } from '../../src/kafka/topic-admin.js';
import { createLogger } from '../../src/observability/logger.js';

// Against the local stack's single broker (which the global setup starts when nothing answers), topics get one
// replica unless the environment says otherwise; set in each test process, and so in every process a test spawns.
if ((process.env.KAFKA_BROKERS ?? `${LOOPBACK}:${KAFKA_PORT}`) === `${LOOPBACK}:${KAFKA_PORT}`) localStackDefaults();
export const config = loadConfig();
/** Without TEST_LOG_LEVEL, the last warnings and errors are kept in memory, for a timed-out test to print (recentLogs). */
const recent: string[] = [];
export const logger = process.env.TEST_LOG_LEVEL
  ? createLogger(process.env.TEST_LOG_LEVEL as 'info')
  : createLogger('warn', {
      write(line: string) {
        if (recent.push(line.trimEnd()) > 50) recent.shift();
      },
    });
export const recentLogs = (): string => recent.join('\n');

export function testKafka(): Kafka {
  return createKafka(config, logger, 'test');
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Inside a describe: creates the topics before its tests and deletes them after; the admin stays connected meanwhile. */
export function useTopics(kafka: Kafka, topics: string[]): Admin {
  const admin = kafka.admin();
  beforeAll(async () => {
    await admin.connect();
    await ensureTopics(
      admin,
      topics.map((topic) => ({ topic, numPartitions: 1 })),
    );
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });
  return admin;
}

/** Consumes from the beginning until `done` says so (or the timeout), then disconnects; returns every message in order of arrival. */
export async function collect(
  kafka: Kafka,
  topic: string,
  done: (seen: KafkaMessage[]) => boolean,
  options: { readUncommitted?: boolean; timeoutMs?: number } = {},
): Promise<KafkaMessage[]> {
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('test-reader'), readUncommitted: options.readUncommitted ?? false });
  const seen: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${options.timeoutMs ?? 30_000} ms with ${seen.length} messages from ${topic}`)),
        options.timeoutMs ?? 30_000,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message);
          if (done(seen)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** Polls until `done` holds or the timeout passes; returns the last value read (the test asserts on it). */
export async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > deadline) return v;
    await sleep(250);
  }
}
