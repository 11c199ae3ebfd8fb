/** What a benchmark leaves behind on the local stack, removed by namespace: its Redis keys and its topics. */

import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';

export async function dropRedisKeys(redis: Redis, namespace: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 10_000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export async function dropTopics(kafka: Kafka, namespaces: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => namespaces.some((ns) => t.startsWith(`${ns}.`)));
    if (topics.length) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
