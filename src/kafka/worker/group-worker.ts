/**
 * The core every consuming worker of c360 runs on (the topology runner, the sink): its consumer in
 * the group, one turn at a time per partition, dependency waits that hold the partition and keep
 * the membership alive, committed offsets with the lag and stalls they imply, revocation, and a
 * graceful stop. What a worker does with a batch is its own (PartitionWork).
 */
import type { Batch, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Config } from '../../config.js';
import { describeError } from '../../contracts/errors.js';
import { crashPoint } from '../../faults/failpoints.js';
import type { Logger } from '../../observability/logger.js';
import { DependencyWaits, waitOut } from '../../retry.js';
import { consumerMetrics } from '../consumer-metrics.js';
import { concurrentPartitions, type GroupMembership, groupConsumer } from './membership.js';
import { PartitionTurns } from './partition-turns.js';

/** What every consuming worker is made with, whatever it does with its batches. */
export interface WorkerOptions {
  config: Config;
  logger: Logger;
  metrics: Registry;
  /** How long a crashed worker's partitions wait before moving (min 6 s on a default broker). */
  sessionTimeoutMs?: number;
  summaryIntervalMs?: number;
  /** Called when the consumer stops for good (a non-retriable error): a worker process should exit and be restarted. */
  onFatal?: (error: Error) => void;
}

export interface GroupWorkerOptions extends WorkerOptions {
  kafka: Kafka;
  groupId: string;
  /** What the worker is called in its log lines (`topology`, `sink`). */
  name: string;
  topics: Array<string | RegExp>;
  /** Upper bound of one fetch per partition, hence of one batch. */
  maxBytesPerPartition?: number;
  partitionsConsumedConcurrently: number;
  /** One log line of what the worker did so far, every summary interval and at the stop. */
  summary(): void;
}

/** What a worker does with its partitions; every call runs in the partition's turn. */
export interface PartitionWork {
  /** One fetched batch of one partition, never empty. */
  batch(batch: Batch, turn: Turn): Promise<void>;
  /** The partition left this worker at a rebalance. */
  revoked(topic: string, partition: number): Promise<void> | void;
}

/** One batch's hold on its partition. */
export interface Turn {
  /** `topic[partition]`: how logs and /readyz name the partition. */
  readonly key: string;
  /** False once the worker stops or the partition has moved to another: work in flight gives up. */
  running(): boolean;
  /** Keeps the membership alive during long work; a failed heartbeat shows in `running()` soon after. */
  heartbeat(): Promise<void>;
  /**
   * Runs `run`, waiting out a failing dependency for as long as the worker holds the partition;
   * /readyz names what it waits on. `onRetry` runs before each wait.
   */
  wait<T>(run: () => Promise<T>, o?: { logger?: Logger; onRetry?: () => void }): Promise<T>;
  /** The batch is handled up to `offset`: the consumer fetches on after it. */
  resolve(offset: string): void;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}[${partition}]`;

export class GroupWorker {
  private readonly turns = new PartitionTurns();
  private readonly waits = new DependencyWaits();
  private readonly lag: ReturnType<typeof consumerMetrics>['lag'];
  /** Per partition this worker owns: the group's offset as this worker last moved it, and the high watermark last fetched. */
  private readonly committedOffsets = new Map<string, bigint>();
  private readonly highWatermarks = new Map<string, bigint>();
  /** Per partition with records waiting: since when it has not moved. */
  private readonly waitingSince = new Map<string, number>();
  private owned: Array<{ topic: string; partition: number }> = [];
  private consumer: Consumer | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Its consumer's place in the group, once started: what /readyz and /healthz report (src/cli/ops.ts). */
  membership: GroupMembership | undefined;

  constructor(private readonly o: GroupWorkerOptions) {
    this.lag = consumerMetrics(o.metrics).lag;
  }

  /** Joins the group and starts handing batches to `work`; resolves once consuming. */
  async start(work: PartitionWork): Promise<void> {
    const { consumer, membership } = groupConsumer(this.o.kafka, {
      groupId: this.o.groupId,
      sessionTimeoutMs: this.o.sessionTimeoutMs,
      maxBytesPerPartition: this.o.maxBytesPerPartition,
      memory: this.o.config.memory,
    });
    this.consumer = consumer;
    this.membership = membership;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.o.logger.info({ assignment: e.payload.memberAssignment, memberId: e.payload.memberId }, `joined ${this.o.name} group`);
      this.reassign(e.payload.memberAssignment, work);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.o.logger.error({ err: describeError(e.payload.error), restart: e.payload.restart }, `${this.o.name} consumer crashed`);
      if (!e.payload.restart) this.o.onFatal?.(e.payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.o.topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrentPartitions(this.o.partitionsConsumedConcurrently, this.o.maxBytesPerPartition, this.o.config.memory),
      eachBatch: (payload) => this.onBatch(payload, work),
    });
    this.summaryTimer = setInterval(() => this.o.summary(), this.o.summaryIntervalMs ?? 10_000);
    this.summaryTimer.unref();
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload, work: PartitionWork): Promise<void> {
    if (batch.messages.length === 0 || this.stopping) return;
    const key = partitionKey(batch.topic, batch.partition);
    this.highWatermarks.set(key, BigInt(batch.highWatermark));
    this.setLag(batch.topic, batch.partition, this.committedOffsets.get(key) ?? BigInt(batch.firstOffset() ?? batch.lastOffset()));
    if (!this.waitingSince.has(key)) this.waitingSince.set(key, Date.now());
    const running = () => isRunning() && !isStale() && !this.stopping;
    const turn: Turn = {
      key,
      running,
      heartbeat,
      wait: (run, o) =>
        waitOut(run, {
          key,
          logger: o?.logger ?? this.o.logger,
          waits: this.waits,
          shouldContinue: running,
          onRetry: async () => {
            o?.onRetry?.();
            await heartbeat().catch(() => undefined);
          },
        }),
      resolve: resolveOffset,
    };
    await this.turns.take(key, () => work.batch(batch, turn));
    await heartbeat().catch(() => undefined);
  }

  /** Runs `run` in the partition's turn: after every batch, flush or revocation of it before. */
  inTurn<T>(topic: string, partition: number, run: () => Promise<T> | T): Promise<T> {
    return this.turns.take(partitionKey(topic, partition), run);
  }

  /**
   * The group's offset of the partition has moved to `next` (a transaction committed it, or
   * `commitOffset` did): the lag follows, and the partition counts as moving.
   */
  committed(topic: string, partition: number, next: bigint): void {
    const key = partitionKey(topic, partition);
    this.committedOffsets.set(key, next);
    this.setLag(topic, partition, next);
    if (next >= (this.highWatermarks.get(key) ?? 0n)) this.waitingSince.delete(key);
    else this.waitingSince.set(key, Date.now());
  }

  /**
   * Moves the group's offset of the partition to `next` outside a transaction, unless it is there
   * already. A failed commit is logged and left to the next one: a later commit covers it.
   */
  async commitOffset(topic: string, partition: number, next: bigint): Promise<void> {
    if (next <= (this.committedOffsets.get(partitionKey(topic, partition)) ?? -1n)) return;
    crashPoint('sink-before-commit');
    try {
      await this.consumer!.commitOffsets([{ topic, partition, offset: next.toString() }]);
      this.committed(topic, partition, next);
    } catch (err) {
      this.o.logger.warn({ topic, partition, err: describeError(err) }, 'offset commit failed; will commit again');
    }
  }

  /** Reads the partition again from `offset`: the batch in flight goes stale (`running()` turns false). */
  seek(topic: string, partition: number, offset: number): void {
    this.consumer?.seek({ topic, partition, offset: String(offset) });
  }

  private setLag(topic: string, partition: number, next: bigint): void {
    const left = (this.highWatermarks.get(partitionKey(topic, partition)) ?? next) - next;
    this.lag.set({ group: this.o.groupId, topic, partition: String(partition) }, Number(left > 0n ? left : 0n));
  }

  /**
   * A new assignment: partitions this worker no longer owns are revoked in their turn, and their lag
   * is no longer exported, so a sum over workers counts each partition once. Stall clocks restart.
   */
  private reassign(assignment: Record<string, number[]>, work: PartitionWork): void {
    const now = Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    const keep = new Set(now.map((p) => partitionKey(p.topic, p.partition)));
    for (const { topic, partition } of this.owned) {
      const key = partitionKey(topic, partition);
      if (keep.has(key)) continue;
      this.lag.remove({ group: this.o.groupId, topic, partition: String(partition) });
      this.committedOffsets.delete(key);
      this.highWatermarks.delete(key);
      this.waits.end(key);
      void this.turns
        .take(key, () => work.revoked(topic, partition))
        .catch((err) => this.o.logger.error({ key, err: describeError(err) }, 'revoking a partition failed'));
    }
    this.owned = now;
    this.waitingSince.clear();
  }

  /** The partitions the group gives this worker now, as `topic[partition]`. */
  partitions(): string[] {
    return this.owned.map((p) => partitionKey(p.topic, p.partition));
  }

  /** What this worker's partitions wait on (a store, Redis, the key store, the registry): /readyz says it. */
  waitingOn(): string[] {
    return this.waits.describe();
  }

  /** Partitions whose records have waited longer than `ms` without one being committed: a stall /readyz reports. */
  stalledPartitions(ms: number): string[] {
    const now = Date.now();
    return [...this.waitingSince].filter(([, since]) => now - since > ms).map(([key]) => key);
  }

  /** Notes a dependency failure outside a batch's turn (an idle flush), for /readyz; `end` clears it. */
  waitStarted(key: string, error: Parameters<DependencyWaits['start']>[1]): boolean {
    return this.waits.start(key, error);
  }

  waitEnded(key: string): void {
    this.waits.end(key);
  }

  /**
   * Graceful stop: no new batch is taken and work in flight gives up or finishes; then `finish`
   * (a sink publishes its open files), the group is left, and the summary is logged a last time.
   */
  async stop(finish?: () => Promise<void>): Promise<void> {
    this.stopping = true;
    clearInterval(this.summaryTimer);
    await finish?.();
    await this.consumer?.disconnect().catch(() => undefined);
    this.o.summary();
  }
}
