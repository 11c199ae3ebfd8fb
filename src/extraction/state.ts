/**
 * Positions of file ingests and connectors in the compacted `<ns>.connector-state` topic. A
 * position is written in the same Kafka transaction as the records it covers, so after a crash
 * the last committed position is exactly where the committed records end: nothing is skipped,
 * nothing sent twice.
 */
import type { Kafka, Message, Producer } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { readToEnd } from '../kafka/read-to-end.js';

/**
 * A transactional producer for one file or connector, initialised at once: initialising fences any
 * earlier process with the same id and aborts its open transaction, so the state read next is final.
 */
export async function exclusiveProducer(kafka: Kafka, transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 60_000,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  // KafkaJS sends InitProducerId with the first transaction, not at connect.
  const txn = await producer.transaction();
  await txn.abort();
  return producer;
}

/** The latest committed value of `key`, or undefined. */
export async function readState<T>(kafka: Kafka, topic: string, key: string): Promise<T | undefined> {
  let latest: T | undefined;
  await readToEnd(kafka, topic, (m) => {
    if (m.key?.toString() !== key) return;
    latest = m.value ? (JSON.parse(m.value.toString()) as T) : undefined;
  });
  return latest;
}

export function stateMessage(key: string, value: unknown): Message {
  return { key, value: JSON.stringify(value) };
}
