/** What a benchmark leaves behind on the local stack, measured and removed by namespace: its Redis keys and its topics. */

import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';

async function* redisKeys(redis: Redis, namespace: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 10_000);
    if (keys.length) yield keys;
    cursor = next;
  } while (cursor !== '0');
}

export async function dropRedisKeys(redis: Redis, namespace: string): Promise<void> {
  for await (const keys of redisKeys(redis, namespace)) await redis.unlink(...keys);
}

/** Bytes Redis spends on the namespace's keys (MEMORY USAGE, overhead included), by the key's kind: its second part (`dedup`, `nd`, `ndref`…). */
export async function redisBytes(redis: Redis, namespace: string): Promise<Map<string, { keys: number; bytes: number }>> {
  const byKind = new Map<string, { keys: number; bytes: number }>();
  for await (const keys of redisKeys(redis, namespace)) {
    const pipeline = redis.pipeline();
    for (const k of keys) pipeline.memory('USAGE', k, 'SAMPLES', '0');
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((k, i) => {
      const kind = k.slice(namespace.length + 1).split(':', 1)[0]!;
      const entry = byKind.get(kind) ?? { keys: 0, bytes: 0 };
      entry.keys++;
      entry.bytes += Number(replies[i]?.[1] ?? 0);
      byKind.set(kind, entry);
    });
  }
  return byKind;
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
