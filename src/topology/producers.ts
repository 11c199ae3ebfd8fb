/**
 * One transactional producer per input partition, with a transactional id derived from it:
 * whichever worker owns the partition now initialises that id and so fences any zombie that
 * still thinks it does (the Kafka Streams "exactly_once" model; KafkaJS cannot send the group
 * generation with its offsets, which the one-producer-per-worker model needs).
 */
import type { Kafka, Producer } from 'kafkajs';
import { exclusiveProducer } from '../kafka/transactional.js';

export class PartitionProducers {
  private readonly producers = new Map<string, Promise<Producer>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly transactionalIdPrefix: string,
  ) {}

  get(topic: string, partition: number): Promise<Producer> {
    const key = `${topic}:${partition}`;
    let p = this.producers.get(key);
    if (!p) {
      // Initialised at once: a zombie with this id is fenced before this worker sends anything.
      p = exclusiveProducer(this.kafka, `${this.transactionalIdPrefix}.${key}`);
      p.catch(() => this.producers.delete(key));
      this.producers.set(key, p);
    }
    return p;
  }

  /** Whether this worker has an initialised producer for the partition (its transactions have gone through it). */
  isOpen(topic: string, partition: number): boolean {
    return this.producers.has(`${topic}:${partition}`);
  }

  async drop(topic: string, partition: number): Promise<void> {
    const key = `${topic}:${partition}`;
    const p = this.producers.get(key);
    this.producers.delete(key);
    await p?.then((producer) => producer.disconnect()).catch(() => undefined);
  }

  /** Closes the producers of partitions this worker no longer owns. */
  async retain(assignment: Record<string, number[]>): Promise<void> {
    const keep = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
    await Promise.all(
      [...this.producers.keys()]
        .filter((k) => !keep.has(k))
        .map((k) => {
          const i = k.lastIndexOf(':');
          return this.drop(k.slice(0, i), Number(k.slice(i + 1)));
        }),
    );
  }

  async closeAll(): Promise<void> {
    const all = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(all.map((p) => p.then((producer) => producer.disconnect()).catch(() => undefined)));
  }
}
