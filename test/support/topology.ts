/** Runs a topology in-process on a namespace of its own, so tests never see each other's topics, groups or Redis keys. */

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Kafka, Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { type LedgerEntry, type LedgerTotals, totalsOf } from '../../src/contracts/ledger.js';
import { type TopicNames, topicNames } from '../../src/contracts/topics.js';
import type { Topology } from '../../src/contracts/topology-definition.js';
import { loadTopology } from '../../src/topology/load.js';
import { TopologyRunner } from '../../src/topology/runner.js';
import { collect, config, logger } from './kafka.js';

export interface RunningTopology {
  topology: Topology;
  names: TopicNames;
  runner: TopologyRunner;
  stop(): Promise<void>;
}

export function testNamespace(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

export async function startTopology(namespace: string, patch: (t: Topology) => void = () => undefined): Promise<RunningTopology> {
  const topology = await loadTopology('customer360', { namespace });
  patch(topology);
  const runner = new TopologyRunner({ config, topology, logger, metrics: new Registry(), sessionTimeoutMs: 6_000, summaryIntervalMs: 60_000 });
  await runner.start();
  return { topology, names: topicNames(namespace), runner, stop: () => runner.stop() };
}

export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

export function json(value: unknown, key?: string): Message {
  return { key: key ?? null, value: JSON.stringify(value) };
}

export async function clearRedis(namespace: string): Promise<void> {
  const redis = new Redis(config.redisUrl);
  try {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** Reads the ledger topic until `done` holds for the totals (every entry is committed with the records it counts). */
export async function waitForLedger(kafka: Kafka, names: TopicNames, done: (t: LedgerTotals) => boolean, timeoutMs = 60_000): Promise<LedgerTotals> {
  let totals = totalsOf([]);
  await collect(
    kafka,
    names.ledger,
    (seen) => {
      totals = totalsOf(seen.map((m) => JSON.parse(m.value!.toString()) as LedgerEntry));
      return done(totals);
    },
    { timeoutMs },
  );
  return totals;
}
