import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { collect, config, testKafka, uniqueName, useTopics } from '../../test/support/kafka.js';
import { createSchemaRegistry } from './registry.js';

// Smoke test of the stack: the registry, Confluent framing and a Kafka round trip.
describe('schema registry + Kafka smoke', () => {
  const kafka = testKafka();
  const registry = createSchemaRegistry(config);
  const topic = uniqueName('smoke');
  useTopics(kafka, [topic]);
  const schema = {
    type: 'record',
    name: 'Smoke',
    namespace: 'io.c360.test',
    fields: [
      { name: 'customer_id', type: 'string' },
      { name: 'points', type: 'int' },
      { name: 'tier', type: { type: 'enum', name: 'Tier', symbols: ['NONE', 'GOLD'] } },
    ],
  };

  it('registers a schema, produces a Confluent-framed Avro record, consumes and decodes it', async () => {
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject: `${topic}-value` });
    expect(id).toBeGreaterThan(0);

    const value = await registry.encode(id, { customer_id: 'c-1', points: 42, tier: 'GOLD' });
    // Confluent wire format: magic byte 0, then the 4-byte big-endian schema id.
    expect(value[0]).toBe(0);
    expect(value.readInt32BE(1)).toBe(id);

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'c-1', value }] });
    await producer.disconnect();

    const [message] = await collect(kafka, topic, (seen) => seen.length === 1);
    expect(message?.key?.toString()).toBe('c-1');
    expect(await registry.decode(message!.value!)).toEqual({ customer_id: 'c-1', points: 42, tier: 'GOLD' });
    expect(await registry.getLatestSchemaId(`${topic}-value`)).toBe(id);
  });
});
