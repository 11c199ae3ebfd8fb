import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// KafkaJS 2.2.4's produce retry is patched (patches/kafkajs+2.2.4.patch): acknowledgements are kept
// per partition, not per broker. Unpatched, a partition whose leader moved to a broker that had
// already answered was never sent (acknowledged and lost: tulios/kafkajs#1303), and a reconnected
// broker was sent again what it had written (twice, under new sequence numbers). These drive the
// patched module through a leader move; the cluster tests cause the real one
// (test/cluster/broker-failure.cluster.test.ts).
const require = createRequire(import.meta.url);

interface Produced {
  node: number;
  partition: number;
  firstSequence: number;
  values: string[];
}
type TopicData = Array<{ topic: string; partitions: Array<{ partition: number; firstSequence: number; messages: Array<{ value: string }> }> }>;
type SendMessages = (
  deps: object,
) => (args: {
  acks: number;
  timeout: number;
  topicMessages: Array<{ topic: string; messages: object[] }>;
}) => Promise<Array<{ topicName: string; partition: number }>>;
const sendMessages = require('kafkajs/src/producer/sendMessages.js') as SendMessages;
const createRetry = require('kafkajs/src/retry/index.js') as (o: object) => unknown;
const { KafkaJSConnectionError } = require('kafkajs/src/errors.js') as { KafkaJSConnectionError: new (m: string) => Error };

const TOPIC = 't';
const logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A cluster whose brokers fail a given number of produce requests, after each failure applying
 * `onFailure` (a leader move); with `reconnected`, every lookup hands out a new broker object, as
 * KafkaJS does once a broker is reconnected.
 */
function scriptedCluster(o: { leaders: Map<number, number>; failures: Map<number, number>; onFailure?: () => void; reconnected: boolean }) {
  const { leaders, failures } = o;
  const produced: Produced[] = [];
  const brokers = new Map<number, object>();
  const sequences = new Map<number, number>();
  const cluster = {
    targetTopics: new Set<string>(),
    addMultipleTargetTopics: async () => undefined,
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => undefined,
    isConnected: () => true,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () => [...leaders].map(([partitionId, leader]) => ({ partitionId, leader })),
    findLeaderForPartitions: (_topic: string, partitions: number[]) => {
      const result: Record<number, number[]> = {};
      for (const p of partitions) (result[leaders.get(Number(p))!] ??= []).push(Number(p));
      return result;
    },
    findBroker: async ({ nodeId }: { nodeId: string }) => {
      const node = Number(nodeId);
      if (!o.reconnected && brokers.has(node)) return brokers.get(node);
      const broker = {
        nodeId: node,
        produce: async ({ topicData }: { topicData: TopicData }) => {
          const left = failures.get(node) ?? 0;
          if (left > 0) {
            failures.set(node, left - 1);
            o.onFailure?.();
            throw new KafkaJSConnectionError(`broker ${node} went away`);
          }
          for (const { partition, firstSequence, messages } of topicData[0]!.partitions)
            produced.push({ node, partition, firstSequence, values: messages.map((m) => m.value) });
          return {
            topics: topicData.map(({ topic, partitions }) => ({
              topicName: topic,
              partitions: partitions.map(({ partition }) => ({ partition, errorCode: 0, baseOffset: '0' })),
            })),
          };
        },
      };
      brokers.set(node, broker);
      return broker;
    },
  };
  const eosManager = {
    isTransactional: () => false,
    acquireBrokerLock: async () => undefined,
    releaseBrokerLock: async () => undefined,
    getProducerId: () => 1,
    getProducerEpoch: () => 0,
    getSequence: (_t: string, p: number) => sequences.get(p) ?? 0,
    updateSequence: (_t: string, p: number, n: number) => sequences.set(p, (sequences.get(p) ?? 0) + n),
  };
  const send = sendMessages({
    logger: { ...logger, namespace: () => logger },
    cluster,
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    eosManager,
    retrier: createRetry({ retries: 5, initialRetryTime: 1, maxRetryTime: 5 }),
  });
  const messages = [0, 0, 1, 1].map((partition, i) => ({ partition, value: `m${i}` }));
  return { produced, send: () => send({ acks: -1, timeout: 1000, topicMessages: [{ topic: TOPIC, messages }] }) };
}

describe('patched KafkaJS produce retry', () => {
  it('sends a partition whose leader moved to a broker that had already answered (unpatched: acknowledged, never sent)', async () => {
    const leaders = new Map([
      [0, 1],
      [1, 2],
    ]);
    // Broker 1 fails the first request; by the retry its partition 0 is led by broker 2.
    const { produced, send } = scriptedCluster({ leaders, failures: new Map([[1, 1]]), onFailure: () => leaders.set(0, 2), reconnected: false });
    const result = await send();
    expect(produced.sort((a, b) => a.partition - b.partition)).toEqual([
      { node: 2, partition: 0, firstSequence: 0, values: ['m0', 'm1'] },
      { node: 2, partition: 1, firstSequence: 0, values: ['m2', 'm3'] },
    ]);
    expect(result.map((r) => r.partition).sort()).toEqual([0, 1]);
  });

  it('does not send again what a broker wrote when another failed (unpatched: written twice under new sequence numbers)', async () => {
    const { produced, send } = scriptedCluster({
      leaders: new Map([
        [0, 1],
        [1, 2],
      ]),
      failures: new Map([[1, 2]]),
      reconnected: true,
    });
    await send();
    // Each partition written once; partition 0's retry kept its first sequence, so a broker that had written it would drop the copy.
    expect(produced.map(({ node, partition, firstSequence }) => ({ node, partition, firstSequence })).sort((a, b) => a.partition - b.partition)).toEqual([
      { node: 1, partition: 0, firstSequence: 0 },
      { node: 2, partition: 1, firstSequence: 0 },
    ]);
  });
});

type Filter = (args: { messages: object[]; abortedTransactions: Array<{ producerId: string; firstOffset: string }> }) => Array<{ offset: string }>;
const filterAbortedMessages = require('kafkajs/src/consumer/filterAbortedMessages.js') as Filter;

const record = (offset: number, producerId: string) => ({ offset: String(offset), key: Buffer.from('k'), batchContext: { producerId, inTransaction: true } });
const abortMarker = (offset: number, producerId: string) => ({
  offset: String(offset),
  key: Buffer.from([0, 0, 0, 0]),
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
});

/** The offsets of the data records the filter keeps, given the aborted transactions as (producer id, first offset). */
const keptOffsets = (messages: object[], aborted: Array<[string, number]>) =>
  filterAbortedMessages({ messages, abortedTransactions: aborted.map(([producerId, first]) => ({ producerId, firstOffset: String(first) })) })
    .filter((m) => !('isControlRecord' in m))
    .map((m) => m.offset);

describe('patched KafkaJS read_committed filter', () => {
  it('drops the records of interleaved aborted transactions listed by their marker’s offset, not their first', () => {
    // Producer 8 began at 10 and aborted at 14; producer 9 began at 11 and aborted at 13; 12 and 15 are committed (producer 7).
    const messages = [record(10, '8'), record(11, '9'), record(12, '7'), abortMarker(13, '9'), abortMarker(14, '8'), record(15, '7')];
    expect(
      keptOffsets(messages, [
        ['9', 11],
        ['8', 10],
      ]),
    ).toEqual(['12', '15']);
  });

  it('drops the first records of a fetch that begins inside two aborted transactions', () => {
    const messages = [record(20, '9'), record(21, '8'), abortMarker(22, '8'), abortMarker(23, '9')];
    expect(
      keptOffsets(messages, [
        ['8', 5],
        ['9', 6],
      ]),
    ).toEqual([]);
  });
});
