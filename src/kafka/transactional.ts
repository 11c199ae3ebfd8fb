/**
 * Transactional producers, initialised when made: the first InitProducerId for a transactional id
 * makes its coordinator finish whatever transaction an earlier producer with that id left (commit
 * what was prepared, abort the rest) and fences that producer. Whoever reads state or offsets next
 * therefore reads final values.
 */
import { type Kafka, Partitioners, type Producer } from 'kafkajs';

/**
 * A transactional producer, initialised at once: initialising fences any
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
  try {
    // KafkaJS sends InitProducerId with the first transaction, not at connect.
    const txn = await producer.transaction();
    await txn.abort();
  } catch (err) {
    // A producer that could not be initialised is closed, or its connections keep a finished command alive.
    await producer.disconnect().catch(() => undefined);
    throw err;
  }
  return producer;
}
