/**
 * One transactional producer per input partition, with a transactional id derived from it:
 * whichever worker owns the partition now initialises that id and so fences any zombie that
 * still thinks it does (the Kafka Streams "exactly_once" model; KafkaJS cannot send the group
 * generation with its offsets, which the one-producer-per-worker model needs).
 */
import type { Kafka, Producer } from 'kafkajs';
import { exclusiveProducer } from '../transactional.js';
import type { TransactionLog } from './exactly-once.js';

export class PartitionProducers implements TransactionLog {
  private readonly producers = new Map<string, Promise<Producer>>();

  /** `groupId` is the consumer group whose offsets the transactions carry, and the prefix of their transactional ids. */
  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
  ) {}

  producer(topic: string, partition: number): Promise<Producer> {
    const key = `${topic}:${partition}`;
    let p = this.producers.get(key);
    if (!p) {
      // Initialised at once: a zombie with this id is fenced before this worker sends anything.
      p = exclusiveProducer(this.kafka, `${this.groupId}.${key}`);
      p.catch(() => this.producers.delete(key));
      this.producers.set(key, p);
    }
    return p;
  }

  isOpen(topic: string, partition: number): boolean {
    return this.producers.has(`${topic}:${partition}`);
  }

  async drop(topic: string, partition: number): Promise<void> {
    const key = `${topic}:${partition}`;
    const p = this.producers.get(key);
    this.producers.delete(key);
    await p?.then((producer) => producer.disconnect()).catch(() => undefined);
  }

  async committedOffset(topic: string, partition: number): Promise<bigint> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
      return BigInt(committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
    } finally {
      await admin.disconnect();
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(all.map((p) => p.then((producer) => producer.disconnect()).catch(() => undefined)));
  }
}
