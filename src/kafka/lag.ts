/**
 * A consumer group's lag, in records: what sits in its topics after the offsets it committed.
 * Offsets alone over-count, since transaction markers take offsets too; so a small gap is read
 * (read_committed) and its records counted, a large one reported as the offset difference.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
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

/** A group's position in one partition, as the brokers report it. */
export interface PartitionOffsets {
  group: string;
  topic: string;
  partition: number;
  /** -1 when the group has committed nothing for the partition. */
  committed: number;
  /** The partition's first and next offsets. */
  start: number;
  end: number;
  /** Offsets after the committed one (from the start when none), transaction markers included. */
  lag: number;
}

/** Each group's committed offsets against its topics' ends: one read of the brokers, no records read. */
export async function readGroupOffsets(admin: Admin, groups: Array<{ group: string; topics: string[] }>): Promise<PartitionOffsets[]> {
  // Committed offsets before the ends, so that no committed offset is past the end read with it.
  const committedOf = new Map<string, Awaited<ReturnType<Admin['fetchOffsets']>>>();
  for (const { group, topics } of groups) committedOf.set(group, await admin.fetchOffsets({ groupId: group, topics }));
  const ends = new Map<string, Array<{ partition: number; low: string; high: string }>>();
  // Right after a topic is created the broker may not know it yet: asked again for a few seconds.
  for (const topic of new Set(groups.flatMap((g) => g.topics))) {
    ends.set(topic, await retry(() => admin.fetchTopicOffsets(topic), { retries: 20, initialMs: 250, maxMs: 250 }));
  }
  const partitions: PartitionOffsets[] = [];
  for (const { group, topics } of groups) {
    const committed = committedOf.get(group)!;
    for (const topic of topics) {
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const p of ends.get(topic) ?? []) {
        const offset = Number(mine.find((m) => m.partition === p.partition)?.offset ?? -1);
        const [start, end] = [Number(p.low), Number(p.high)];
        partitions.push({ group, topic, partition: p.partition, committed: offset, start, end, lag: Math.max(0, end - (offset < 0 ? start : offset)) });
      }
    }
  }
  return partitions;
}

export async function groupLag(kafka: Kafka, groupId: string, topics: string[], timeoutMs = 60_000): Promise<PartitionLag[]> {
  const admin = kafka.admin();
  await admin.connect();
  let gaps: Array<{ topic: string; partition: number; from: bigint; end: bigint }>;
  try {
    gaps = (await readGroupOffsets(admin, [{ group: groupId, topics }])).map((p) => ({
      topic: p.topic,
      partition: p.partition,
      from: BigInt(p.committed < 0 ? p.start : p.committed),
      end: BigInt(p.end),
    }));
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
