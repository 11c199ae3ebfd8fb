/** Reads a topic from the beginning to its current end (read_committed) and returns; for ledgers and audits, not for streaming. */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { DependencyUnavailableError } from '../contracts/errors.js';
import { retry } from '../retry.js';

/** High watermarks; a topic created a moment ago may not have its leaders yet, which is retried. */
async function topicEnds(kafka: Kafka, topic: string): Promise<Array<{ partition: number; high: string }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await retry(() => admin.fetchTopicOffsets(topic), { retries: 20, initialMs: 250, maxMs: 250 });
  } finally {
    await admin.disconnect();
  }
}

/**
 * A read that does not reach the end in `timeoutMs` (its group's coordinator or a partition's
 * leader gone and not yet replaced) is a Kafka outage: callers that resume from committed state
 * retry it whole, as they do a failed transaction.
 */
export async function readToEnd(kafka: Kafka, topic: string, onMessage: (m: KafkaMessage) => void, timeoutMs = 60_000, signal?: AbortSignal): Promise<void> {
  const ends = new Map((await topicEnds(kafka, topic)).map((p) => [p.partition, BigInt(p.high)]));
  const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  if (pending.size === 0) return;
  const consumer = kafka.consumer({ groupId: `c360-reader-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const next = new Map<number, bigint>();
      const timer = setTimeout(() => reject(new DependencyUnavailableError('kafka', `reading ${topic} to its end took over ${timeoutMs} ms`)), timeoutMs);
      // A reader told to stop (its worker is shutting down) gives up at once; the caller reads again when it next needs to.
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(new DependencyUnavailableError('kafka', `reading ${topic} was given up: the process is stopping`));
        },
        { once: true },
      );
      // A crash KafkaJS gives up on would otherwise wait out the timer.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (payload.restart) return;
        clearTimeout(timer);
        reject(payload.error);
      });
      void consumer.run({
        // Nothing is committed: the group is thrown away, and without offsets the broker forgets it once it is empty.
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          // After a restart KafkaJS fetches from the beginning again (nothing is committed): each offset is handed over once.
          const from = next.get(batch.partition) ?? 0n;
          for (const m of batch.messages) if (BigInt(m.offset) >= from) onMessage(m);
          const reached = BigInt(batch.lastOffset()) + 1n;
          if (reached > from) next.set(batch.partition, reached);
          // Transaction markers take offsets too: the partition is done once the batch reaches the end seen at the start.
          if (reached >= ends.get(batch.partition)!) pending.delete(batch.partition);
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
}
