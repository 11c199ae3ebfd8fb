import { describe, expect, it } from 'vitest';
import { collect, testKafka, uniqueName, useTopics } from '../../test/support/kafka.js';

// The patched encoder (patches/kafkajs+2.2.4.patch, pinned byte for byte in encoding.test.ts) against a real broker.
describe('patched KafkaJS against the broker', () => {
  const kafka = testKafka();
  const topic = uniqueName('encoding');
  useTopics(kafka, [topic]);

  it('a transactional batch of 2,000 records with headers reads back byte for byte', async () => {
    const messages = Array.from({ length: 2000 }, (_, i) => ({
      key: `key-${i}`,
      value: Buffer.from(`välue-${i}-${'x'.repeat(i % 300)}`),
      headers: { 'c360.ingest_id': `id-${i}`, 'c360.origin': `{"row":${i},"file":"naïve.csv"}`, bin: Buffer.from([i & 255, 0, 255]) },
    }));
    const producer = kafka.producer({ transactionalId: uniqueName('encoding-txn'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic, acks: -1, messages });
    await txn.commit();
    await producer.disconnect();

    const read = await collect(kafka, topic, (seen) => seen.length >= messages.length);
    expect(read).toHaveLength(messages.length);
    const byKey = new Map(read.map((m) => [m.key!.toString(), m]));
    for (const m of messages) {
      const got = byKey.get(m.key)!;
      expect(got.value).toEqual(m.value);
      expect(got.headers!['c360.ingest_id']!.toString()).toBe(m.headers['c360.ingest_id']);
      expect(got.headers!['c360.origin']!.toString()).toBe(m.headers['c360.origin']);
      expect(got.headers!.bin).toEqual(m.headers.bin);
    }
  });
});
