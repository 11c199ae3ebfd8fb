import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// KafkaJS 2.2.4 is patched (patches/kafkajs+2.2.4.patch) for produce-side encoding speed; these pin
// the patched encoder to the bytes the unpatched one wrote (encoding.int.test.ts reads them back from a broker).
const require = createRequire(import.meta.url);
type RecordEncoder = (record: object) => { buffer: Buffer };
type Grouper = (args: {
  topic: string;
  partitionMetadata: object[];
  messages: { key: string }[];
  partitioner: (a: { message: { key: string } }) => number;
}) => Record<string, { key: string }[]>;
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordEncoder;
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition.js') as Grouper;

describe('patched KafkaJS record encoding', () => {
  it('writes the same bytes as unpatched KafkaJS 2.2.4 (varints, multi-byte UTF-8, repeated and binary headers)', () => {
    const record = {
      offsetDelta: 300,
      timestampDelta: 1234567,
      key: 'C-1',
      value: Buffer.from([0, 0, 0, 0, 7, 2, 65]),
      headers: { 'c360.source': 'crm', 'c360.origin': '{"file":"é.csv","row":2}', multi: ['a', 'bb'], bin: Buffer.from([1, 2, 3]) },
    };
    // Hex written by the unpatched kafkajs@2.2.4 for the same record.
    expect(encodeRecord(record).buffer.toString('hex')).toBe(
      'c601008eda9601d80406432d310e000000000702410a16633336302e736f757263650663726d16633336302e6f726967696e327b2266696c65223a22c3a92e637376222c22726f77223a327d0a6d756c746902610a6d756c74690462620662696e06010203',
    );
    // A delta beyond 32 bits still takes the 64-bit varint path; null key and value are -1 lengths.
    expect(encodeRecord({ offsetDelta: 0, timestampDelta: -(2 ** 33), key: null, value: null, headers: {} }).buffer.toString('hex')).toBe(
      '1400ffffffff3f00010100',
    );
  });

  it('encodes a null header value as length -1 (unpatched 2.2.4 throws, tulios/kafkajs#1789)', () => {
    expect(encodeRecord({ key: 'k', value: 'v', headers: { gone: null } }).buffer.toString('hex')).toBe('1c000000026b02760208676f6e6501');
  });

  it('groups messages per partition in their order', () => {
    const messages = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}` }));
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [{}, {}, {}],
      messages,
      partitioner: ({ message }) => Number(message.key.slice(1)) % 3,
    });
    expect(Object.fromEntries(Object.entries(grouped).map(([p, ms]) => [p, ms.map((m) => m.key)]))).toEqual({
      0: ['k0', 'k3', 'k6', 'k9'],
      1: ['k1', 'k4', 'k7'],
      2: ['k2', 'k5', 'k8'],
    });
  });
});
