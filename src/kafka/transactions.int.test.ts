import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, testKafka, uniqueName, useTopics } from '../../test/support/kafka.js';

// The exactly-once building blocks the topology relies on, proven against the pinned broker.
describe('Kafka transactions (KafkaJS against the pinned broker)', () => {
  const kafka = testKafka();
  const input = uniqueName('txn-in');
  const output = uniqueName('txn-out');
  const admin = useTopics(kafka, [input, output]);
  const groupId = uniqueName('txn-group');
  let producer: Producer;

  beforeAll(async () => {
    const plain = kafka.producer({ idempotent: true });
    await plain.connect();
    await plain.send({ topic: input, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    await plain.disconnect();
    producer = kafka.producer({ transactionalId: uniqueName('txn-test'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
  });

  it('consume-transform-produce commits output and input offsets together (sendOffsets)', async () => {
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic: input, fromBeginning: true });
    let processed = 0;
    await new Promise<void>((resolve, reject) => {
      void consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const txn = await producer.transaction();
            try {
              await txn.send({ topic: output, messages: batch.messages.map((m) => ({ key: m.key, value: `${m.value?.toString()}-out` })) });
              const last = batch.messages[batch.messages.length - 1]!;
              await txn.sendOffsets({
                consumerGroupId: groupId,
                topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }] }],
              });
              await txn.commit();
            } catch (err) {
              await txn.abort();
              reject(err);
              throw err;
            }
            processed += batch.messages.length;
            if (processed === 10) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();

    // Transactional offsets become visible once the commit marker reaches __consumer_offsets, shortly after EndTxn returns.
    await expect
      .poll(async () => (await admin.fetchOffsets({ groupId, topics: [input] }))[0]?.partitions, { timeout: 15_000, interval: 100 })
      .toEqual([expect.objectContaining({ partition: 0, offset: '10' })]);
    const seen = await collect(kafka, output, (s) => s.length === 10);
    expect(seen.map((m) => m.value?.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}-out`));
  });

  it('a read_committed consumer never sees an aborted transaction, a read_uncommitted one does', async () => {
    const aborted = await producer.transaction();
    await aborted.send({ topic: output, messages: Array.from({ length: 5 }, (_, i) => ({ key: `a${i}`, value: `aborted-${i}` })) });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic: output, messages: [{ key: 'after', value: 'after-abort' }] });
    await committed.commit();

    const isLast = (s: { value: Buffer | null }[]) => s.some((m) => m.value?.toString() === 'after-abort');
    const committedView = (await collect(kafka, output, isLast)).map((m) => m.value?.toString());
    expect(committedView).toHaveLength(11);
    expect(committedView.filter((v) => v?.startsWith('aborted-'))).toEqual([]);

    const uncommittedView = (await collect(kafka, output, isLast, { readUncommitted: true })).map((m) => m.value?.toString());
    expect(uncommittedView.filter((v) => v?.startsWith('aborted-'))).toHaveLength(5);
  });

  it('a second producer with the same transactional id fences the first (zombie fencing)', async () => {
    const transactionalId = uniqueName('fence');
    const first = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    const second = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await first.connect();
    const zombie = await first.transaction();
    await zombie.send({ topic: output, messages: [{ key: 'z', value: 'zombie' }] });
    await second.connect();
    // KafkaJS sends InitProducerId with the first transaction: that bumps the epoch and aborts the zombie's open transaction.
    const successor = await second.transaction();
    await expect(zombie.commit()).rejects.toMatchObject({ type: expect.stringMatching(/PRODUCER_FENCED|INVALID_PRODUCER_EPOCH/) });
    await successor.send({ topic: output, messages: [{ key: 's', value: 'successor' }] });
    await successor.commit();
    await Promise.all([first.disconnect(), second.disconnect()]);
    const seen = (await collect(kafka, output, (s) => s.some((m) => m.value?.toString() === 'successor'))).map((m) => m.value?.toString());
    expect(seen).not.toContain('zombie');
  });
});
