/**
 * The exactly-once step of a consume-transform-produce worker, Kafka Streams style: a batch's
 * output and its input's next offset go out in one transaction of the input partition's own
 * producer, so output and offsets move together or not at all; and no record is processed again
 * once this worker, or the group, has committed it.
 */
import type { TopicMessages, Transaction } from 'kafkajs';
import { DependencyUnavailableError, describeError, isFenced } from '../../contracts/errors.js';
import { crashPoint } from '../../faults/failpoints.js';
import type { Logger } from '../../observability/logger.js';
import { sendInRequests } from '../send.js';

export type PartitionTransaction = Pick<Transaction, 'sendBatch' | 'sendOffsets' | 'commit' | 'abort'>;

/** What the step needs of Kafka (producers.ts); an in-memory log stands in for it in unit tests. */
export interface TransactionLog {
  /**
   * The partition's transactional producer, initialised when first asked for: initialising makes
   * the coordinator finish the last transaction of its id (commit what was prepared, abort the
   * rest) and fences whichever producer had it, so the group offset read next is final.
   */
  producer(topic: string, partition: number): Promise<{ transaction(): Promise<PartitionTransaction> }>;
  /** Whether the partition's producer is initialised (this worker's transactions of it went through it). */
  isOpen(topic: string, partition: number): boolean;
  /** Closes the partition's producer; the next batch initialises a new one. */
  drop(topic: string, partition: number): Promise<void>;
  /** The group's committed offset of the partition as its coordinator has it now (-1 when none). */
  committedOffset(topic: string, partition: number): Promise<bigint>;
}

export interface InputPosition {
  topic: string;
  partition: number;
  /** The input offset after the batch: what the group's offset becomes once the transaction commits. */
  next: bigint;
}

export class ExactlyOnce {
  /** Per input partition: the offset below which every record is known to be committed. */
  private readonly marks = new Map<string, bigint>();

  constructor(
    private readonly log: TransactionLog,
    private readonly groupId: string,
    private readonly logger: Logger,
  ) {}

  /**
   * The batch's records not yet committed: none below what this worker committed of the partition
   * (a batch handed over again after a rejoin). A new producer for the partition (this worker's
   * first batch of it, or the first after a failed transaction) has made the coordinator finish the
   * last transaction of its id — including a commit that reported failure but was prepared, here or
   * on the worker that had the partition before — so the group's offset is read again and records
   * below it are skipped too.
   */
  async uncommitted<M extends { offset: string }>(topic: string, partition: number, messages: M[]): Promise<M[]> {
    let groupOffset: bigint | undefined;
    if (!this.log.isOpen(topic, partition)) {
      await this.log.producer(topic, partition);
      groupOffset = await this.log.committedOffset(topic, partition);
      this.advance(topic, partition, groupOffset);
    }
    const mark = this.marks.get(`${topic}[${partition}]`);
    // Nearly every batch starts at or past the mark: its first offset says so, without a BigInt per record.
    if (mark === undefined || messages.length === 0 || BigInt(messages[0]!.offset) >= mark) return messages;
    const fresh = messages.filter((m) => BigInt(m.offset) >= mark);
    this.logger.warn({ topic, partition, committed: groupOffset?.toString(), skipped: messages.length - fresh.length }, 'records already committed skipped');
    return fresh;
  }

  /**
   * Sends `output` and moves the group's offset of the input to `input.next`, in one transaction;
   * `beforeCommit`, once the output is sent, may still refuse the commit by throwing.
   * A failed transaction is aborted and its producer dropped: one left mid-commit cannot begin
   * another, and the next batch's new producer settles a commit that failed here but was prepared.
   * A fenced producer (the group gave the partition to another worker, or the coordinator aborted
   * a transaction that outlasted its timeout) becomes an outage, so the batch is read again by
   * whoever owns the partition rather than stopping the worker as KafkaJS would.
   */
  async commit(input: InputPosition, output: TopicMessages[], limits: ReadonlyMap<string, number>, beforeCommit?: () => Promise<void>): Promise<void> {
    const { topic, partition, next } = input;
    const txn = await (await this.log.producer(topic, partition)).transaction();
    try {
      await sendInRequests(txn, output, limits);
      crashPoint('after-send');
      await beforeCommit?.();
      await txn.sendOffsets({ consumerGroupId: this.groupId, topics: [{ topic, partitions: [{ partition, offset: next.toString() }] }] });
      await txn.commit();
    } catch (err) {
      const fenced = isFenced(err);
      if (!fenced) await txn.abort().catch(() => undefined);
      await this.log.drop(topic, partition);
      if (!fenced) throw err;
      this.logger.warn({ topic, partition }, 'producer fenced; the batch will be read again');
      // No cause: KafkaJS judges retriability by the root one, and fencing is not retriable to it.
      throw new DependencyUnavailableError('kafka', `the producer of ${topic}[${partition}] was fenced: ${describeError(err)}`);
    }
    this.advance(topic, partition, next);
  }

  /** A mark only moves forward: a group offset behind what this worker committed (-1: none yet) changes nothing. */
  private advance(topic: string, partition: number, next: bigint): void {
    const key = `${topic}[${partition}]`;
    if (next > (this.marks.get(key) ?? -1n)) this.marks.set(key, next);
  }
}
