import { describe, expect, it } from 'vitest';
import { testKafka, uniqueName, useTopics } from '../../test/support/kafka.js';
import { readToEnd } from './read-to-end.js';

// The one-shot reader that state, ledgers and audits use, against the pinned broker.
describe('readToEnd', () => {
  const kafka = testKafka();
  const topic = uniqueName('read-to-end');
  const admin = useTopics(kafka, [topic]);

  it('hands over each committed record once, skips an aborted transaction, and leaves no group with offsets behind', async () => {
    const producer = kafka.producer({ transactionalId: uniqueName('read-to-end'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (const [values, outcome] of [
        [['a', 'b', 'c'], 'commit'],
        [['aborted'], 'abort'],
        [['d'], 'commit'],
      ] as const) {
        const txn = await producer.transaction();
        await txn.send({ topic, messages: values.map((value) => ({ value })) });
        await (outcome === 'commit' ? txn.commit() : txn.abort());
      }
    } finally {
      await producer.disconnect();
    }
    const before = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
    const read: string[] = [];
    await readToEnd(kafka, topic, (m) => read.push(m.value!.toString()));
    expect(read).toEqual(['a', 'b', 'c', 'd']);

    // The reader's group committed nothing, so the broker drops it once it is empty instead of keeping it for the offsets' retention.
    const readers = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith('c360-reader-') && !before.has(g));
    expect(readers.length).toBeGreaterThan(0);
    for (const groupId of readers) {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets.flatMap((t) => t.partitions.map((p) => p.offset)).filter((o) => o !== '-1')).toEqual([]);
    }
  });

  it('calls a read that does not reach the end in time a Kafka outage, which file ingests retry', async () => {
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'e' }] });
    await producer.disconnect();
    await expect(readToEnd(kafka, topic, () => undefined, 1)).rejects.toMatchObject({ code: 'dependency.kafka_unavailable', retriable: true });
  });
});
