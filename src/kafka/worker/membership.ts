/**
 * A consumer's place in its group, as the ops endpoint reports it: ready only once it has joined
 * and holds partitions (a worker with none does no work), alive until it crashed for good.
 */
import type { Consumer, Kafka } from 'kafkajs';
import type { MemoryBudget } from '../../config.js';
import { describeError } from '../../contracts/errors.js';

/**
 * A worker's consumer in its group, the way every worker kind joins: committed reads only, no
 * topic created by a read, heartbeats and fetch waits a third of the session, fetches sized by the
 * memory budget.
 */
export function groupConsumer(
  kafka: Kafka,
  o: { groupId: string; sessionTimeoutMs?: number; maxBytesPerPartition?: number; memory: MemoryBudget },
): { consumer: Consumer; membership: GroupMembership } {
  const sessionTimeout = o.sessionTimeoutMs ?? 30_000;
  const consumer = kafka.consumer({
    groupId: o.groupId,
    sessionTimeout,
    heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
    // KafkaJS heartbeats between fetches: a fetch that waits for data longer than the session lets the coordinator drop an
    // idle member, and with two idle members each rejoin drops the other. A third of the session keeps one heartbeat in it.
    maxWaitTimeInMs: Math.min(5_000, Math.floor(sessionTimeout / 3)),
    maxBytesPerPartition: o.maxBytesPerPartition ?? o.memory.fetchBytesPerPartition,
    maxBytes: o.memory.fetchBytes,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  return { consumer, membership: new GroupMembership(consumer) };
}

/** Partitions a topology worker works on at once by default: at the budget's own batch size, the bytes in flight its heap is sized for. */
export const PARTITIONS_AT_ONCE = 6;

/**
 * How many partitions' batches a worker works on at once: as many as it asks for, but no more than
 * PARTITIONS_AT_ONCE batches of the budget's size hold in bytes. A batch takes many times its bytes
 * in the heap while it is worked on, so larger batches (`--max-batch-bytes`) run fewer at a time
 * instead of outgrowing the heap; one always runs.
 */
export function concurrentPartitions(wanted: number, maxBytesPerPartition: number | undefined, memory: MemoryBudget): number {
  const batchBytes = maxBytesPerPartition ?? memory.fetchBytesPerPartition;
  return Math.max(1, Math.min(wanted, Math.floor((PARTITIONS_AT_ONCE * memory.fetchBytesPerPartition) / batchBytes)));
}

export class GroupMembership {
  private partitions = 0;
  private joined = false;
  private crashed: string | undefined;

  constructor(consumer: Consumer) {
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.joined = true;
      this.partitions = Object.values(e.payload.memberAssignment).reduce((n, parts) => n + parts.length, 0);
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.joined = false;
    });
    consumer.on(consumer.events.STOP, () => {
      this.joined = false;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.joined = false;
      if (!e.payload.restart) this.crashed = describeError(e.payload.error);
    });
  }

  /** For /readyz: throws unless the consumer is in its group with at least one partition. */
  assertReady(): void {
    if (this.crashed !== undefined) throw new Error(`the consumer crashed: ${this.crashed}`);
    if (!this.joined) throw new Error('the consumer has not joined its group (starting or rebalancing)');
    if (this.partitions === 0) throw new Error('the consumer holds no partition (more workers than partitions)');
  }

  /** For /healthz: throws once the consumer has crashed and will not restart. */
  assertAlive(): void {
    if (this.crashed !== undefined) throw new Error(`the consumer crashed and will not restart: ${this.crashed}`);
  }
}
