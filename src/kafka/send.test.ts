import type { Message, TopicMessages } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { sendInRequests } from './send.js';

/** What sendInRequests hands the producer, request by request (the producer itself is KafkaJS's, tested against the broker). */
async function requestsFor(topicMessages: TopicMessages[], limits: ReadonlyMap<string, number> = new Map()): Promise<TopicMessages[][]> {
  const sent: TopicMessages[][] = [];
  await sendInRequests(
    {
      sendBatch: async ({ topicMessages: chunk }) => {
        sent.push(chunk!);
        return [];
      },
    },
    topicMessages,
    limits,
  );
  return sent;
}

const message = (bytes: number, i = 0): Message => ({ key: `k${i}`, value: Buffer.alloc(bytes), headers: { 'c360.source': 'crm' } });
const count = (requests: TopicMessages[][]) => requests.map((r) => r.reduce((n, t) => n + t.messages.length, 0));

describe('request splitting', () => {
  it('sends a small batch in one request, topics together', async () => {
    const requests = await requestsFor([
      { topic: 'a', messages: [message(10), message(10)] },
      { topic: 'b', messages: [message(10)] },
    ]);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.map((t) => [t.topic, t.messages.length])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
  });

  it("holds no more of a topic's messages than its max.message.bytes (one record batch per partition), other topics unbounded", async () => {
    // The hostile suite's 48 KiB dead-letter topic: two 20 KiB dead letters in one batch were refused by the broker (seen in CI).
    const dead = Array.from({ length: 5 }, (_, i) => message(20 * 1024, i));
    const requests = await requestsFor(
      [
        { topic: 'raw', messages: Array.from({ length: 5 }, (_, i) => message(20 * 1024, i)) },
        { topic: 'dead-letter', messages: dead },
      ],
      new Map([['dead-letter', 48 * 1024]]),
    );
    expect(requests.map((r) => r.map((t) => [t.topic, t.messages.length]))).toEqual([
      [
        ['raw', 5],
        ['dead-letter', 2],
      ],
      [['dead-letter', 2]],
      [['dead-letter', 1]],
    ]);
  });

  it('keeps each request under 512 KiB and the messages in order', async () => {
    const messages = Array.from({ length: 40 }, (_, i) => message(100 * 1024, i));
    const requests = await requestsFor([{ topic: 'a', messages }]);
    expect(count(requests)).toEqual([5, 5, 5, 5, 5, 5, 5, 5]);
    expect(requests.flatMap((r) => r.flatMap((t) => t.messages.map((m) => m.key)))).toEqual(messages.map((m) => m.key));
  });

  it('sends a message larger than the limit alone, for the broker to judge', async () => {
    const requests = await requestsFor([{ topic: 'a', messages: [message(10), message(600 * 1024), message(10)] }]);
    expect(count(requests)).toEqual([1, 1, 1]);
  });

  it('counts string values by their UTF-8 bytes and headers by name and value', async () => {
    const wide = { key: null, value: 'é'.repeat(100 * 1024), headers: { h: 'x'.repeat(10) } };
    expect(count(await requestsFor([{ topic: 'a', messages: [wide, wide, wide] }]))).toEqual([2, 1]);
  });

  it('sends nothing for nothing', async () => {
    expect(await requestsFor([{ topic: 'a', messages: [] }])).toEqual([]);
  });
});
