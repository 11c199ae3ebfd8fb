/**
 * A consumer group's lag, in records: what sits in its topics after the offsets it committed.
 * Offsets alone over-count, since transaction markers take offsets too; so a small gap is read
 * (read_committed) and its records counted, a large one reported as the offset difference.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { retry } from '../retry.js';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Records after the group's committed offset (from the start when it committed none). */
  records: number;
  /** False when the gap was too large to read, and `records` is its offset difference (markers included). */
  exact: boolean;
}

/** Gaps up to this many offsets are read to count their records exactly. */
const EXACT_UP_TO = 100_000;
/** Markers-only gaps deliver no batch: reading stops once nothing has arrived for this long. */
const IDLE_MS = 2_000;

export async function groupLag(kafka: Kafka, groupId: string, topics: string[], timeoutMs = 60_000): Promise<PartitionLag[]> {
  const admin = kafka.admin();
  await admin.connect();
  const gaps: Array<{ topic: string; partition: number; from: bigint; end: bigint }> = [];
  try {
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const ends = await retry(() => admin.fetchTopicOffsets(topic), { retries: 20, initialMs: 250, maxMs: 250 });
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const p of ends) {
        const offset = BigInt(mine.find((m) => m.partition === p.partition)?.offset ?? '-1');
        const from = offset < 0n ? BigInt(p.low) : offset;
        gaps.push({ topic, partition: p.partition, from, end: BigInt(p.high) });
      }
    }
  } finally {
    await admin.disconnect();
  }
  const lags: PartitionLag[] = gaps.map((g) => ({ topic: g.topic, partition: g.partition, records: 0, exact: true }));
  const toRead = gaps.filter((g, i) => {
    const gap = g.end - g.from;
    if (gap > BigInt(EXACT_UP_TO)) Object.assign(lags[i]!, { records: Number(gap), exact: false });
    return gap > 0n && gap <= BigInt(EXACT_UP_TO);
  });
  if (toRead.length === 0) return lags;

  const consumer = kafka.consumer({ groupId: `c360-lag-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...new Set(toRead.map((g) => g.topic))], fromBeginning: true });
    const pending = new Map(toRead.map((g) => [`${g.topic}:${g.partition}`, g]));
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`counting the lag of ${groupId} took over ${timeoutMs} ms`)), timeoutMs);
      let idle: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(deadline);
        clearTimeout(idle);
        resolve();
      };
      const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(finish, IDLE_MS);
      };
      void consumer
        .run({
          eachBatch: async ({ batch }) => {
            touch();
            const gap = pending.get(`${batch.topic}:${batch.partition}`);
            if (!gap) return;
            const lag = lags.find((l) => l.topic === batch.topic && l.partition === batch.partition)!;
            for (const m of batch.messages) if (BigInt(m.offset) >= gap.from && BigInt(m.offset) < gap.end) lag.records++;
            if (BigInt(batch.lastOffset()) + 1n >= gap.end) pending.delete(`${batch.topic}:${batch.partition}`);
            if (pending.size === 0) finish();
          },
        })
        .then(() => {
          for (const g of toRead) consumer.seek({ topic: g.topic, partition: g.partition, offset: g.from.toString() });
          touch();
        }, reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return lags;
}
