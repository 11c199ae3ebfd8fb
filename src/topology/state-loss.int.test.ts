// Redis loses the topology's state while it runs: a private redis-server without persistence is
// killed and started again empty between two waves of records, and later wiped with FLUSHALL. Each
// wave holds copies of records from before the loss and new records with their own copies. The
// worker rebuilds the claims and the near-duplicate state from their changelogs before its next
// use of them, so every copy is dropped, no record lands twice in the raw topics, a near duplicate
// of a record from before both losses is still flagged, and the ledger balances.
import { Redis } from 'ioredis';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, variant, webEvent } from '../../test/fixtures/records.js';
import { config, testKafka } from '../../test/support/kafka.js';
import { PrivateRedis } from '../../test/support/redis.js';
import { envelopeOf, offlineContext } from '../../test/support/stages.js';
import { json, produce, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { balanced } from '../contracts/ledger.js';
import { topicNames } from '../contracts/topic-names.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { compileEntities } from '../schema/entity.js';
import { claimOf, dedupStage } from '../stages/dedup.js';
import type { Envelope } from '../stages/envelope.js';
import { StateLostError } from '../storage/redis.js';
import { loadTopology } from './load.js';
import type { TopologyRunner } from './runner.js';
import { createTopologyTopics } from './setup.js';

const kafka = testKafka();
const redis = new PrivateRedis();
const namespace = testNamespace();
const names = topicNames(namespace);

const profile = (i: number) => json(variant(crmProfile, { customer_id: `C-${i}`, email: `c${i}@example.com`, phone: null, last_name: `N${i}` }));
const event = (i: number) => json(variant(webEvent, { event_id: `ev-${i}`, session_id: `s-${i}` }));
const range = (from: number, to: number, make: (i: number) => Message) => Array.from({ length: to - from }, (_, i) => make(from + i));

async function rawCount(source: string): Promise<number> {
  let n = 0;
  await readToEnd(kafka, names.raw(source), () => n++);
  return n;
}

describe('Redis loses the state', () => {
  let runner: TopologyRunner | undefined;
  beforeAll(() => redis.start());
  afterAll(async () => {
    await runner?.stop();
    await redis.kill();
  });

  it('a batch whose claims were made before a loss does not commit: the stage refuses after its messages are sent', async () => {
    const topology = await loadTopology('customer360', { namespace: `${namespace}-guard` });
    const crm = compileEntities(topology.sources.find((s) => s.name === 'crm')!)[0]!;
    const client = new Redis(redis.url);
    const ctx = { ...offlineContext(), topology, redis: client };
    const stage = dedupStage.create(ctx);
    const control = { heartbeat: async () => undefined, isRunning: () => true };
    const batch = () => [0, 1].map((i) => envelopeOf(crm, profile(i).value as string, {}, `C-${i}`));
    const decoded = async (envelopes: Envelope[]) => {
      for (const e of envelopes) e.value = crm.coerceJson(JSON.parse(String(e.message.value))).value as Record<string, unknown>;
      return envelopes;
    };
    try {
      const first = await decoded(batch());
      await stage.process(first, control);
      expect(first.map((e) => e.stateChanges.length)).toEqual([1, 1]);
      await stage.beforeCommit!(first);
      // Redis loses everything while the batch is in flight, and another batch rebuilds the (empty) state under a new epoch.
      await client.flushall();
      await stage.process(await decoded(batch()), control);
      await expect(stage.beforeCommit!(first)).rejects.toBeInstanceOf(StateLostError);
    } finally {
      client.disconnect();
    }
  });

  it('still honours claims of the earlier layout, a string key each: in Redis, and read back from the changelog', async () => {
    const ns = `${namespace}-earlier`;
    const topology = await loadTopology('customer360', { namespace: ns });
    const crm = compileEntities(topology.sources.find((s) => s.name === 'crm')!)[0]!;
    const client = new Redis(redis.url);
    const stage = dedupStage.create({
      ...offlineContext(),
      topology,
      redis: client,
      now: Date.now,
      readChangelog: (topic, each) => readToEnd(kafka, topic, each),
    });
    const control = { heartbeat: async () => undefined, isRunning: () => true };
    const record = (i: number) => {
      const e = envelopeOf(crm, profile(i).value as string, {}, `C-${i}`);
      e.value = crm.coerceJson(JSON.parse(String(e.message.value))).value as Record<string, unknown>;
      return e;
    };
    const legacyKey = (i: number) => {
      const e = record(i);
      return claimOf(e, e.value!, { legacyPrefix: `${ns}:dedup`, ingestTopic: e.topic, now: Date.now() }).legacyKey;
    };
    try {
      await createTopologyTopics(kafka, topology, config.topics);
      // A claim another record made before the upgrade, in Redis; and one only in the changelog, as the earlier layout wrote it.
      await client.set(legacyKey(200), `${names.ingest('crm')}/0/7`, 'PX', 60_000);
      await produce(kafka, topicNames(ns).dedupChangelog, [{ key: legacyKey(201), value: `${Date.now() + 60_000}|${names.ingest('crm')}/0/8` }]);
      // The marker is missing (a Redis that never saw this topology): the stage rebuilds from the changelog first.
      const batch = [record(200), record(201), record(202)];
      await stage.process(batch, control);
      expect(batch.map((e) => e.outcome)).toEqual(['duplicate', 'duplicate', 'pending']);
    } finally {
      client.disconnect();
    }
  });

  it('is rebuilt from the changelog before the next claim: copies of records from before the loss are dropped, none lands twice', async () => {
    runner = (await startTopology(namespace, undefined, { redisUrl: redis.url })).runner;

    // Before: 60 profiles and copies of 10 of them; 30 events and copies of 5.
    await produce(kafka, names.ingest('crm'), [...range(0, 60, profile), ...range(0, 10, profile)]);
    await produce(kafka, names.ingest('web'), [...range(0, 30, event), ...range(0, 5, event)]);
    let ledger = await waitForLedger(kafka, names, (l) => l.total.in === 105);
    expect(ledger.total).toMatchObject({ in: 105, raw: 90, duplicates: 15, dead_letter: 0 });

    // A restart without persistence: Redis comes back empty.
    await redis.kill();
    await redis.start();
    await produce(kafka, names.ingest('crm'), [...range(10, 40, profile), ...range(60, 80, profile), ...range(60, 65, profile)]);
    await produce(kafka, names.ingest('web'), range(5, 25, event));
    ledger = await waitForLedger(kafka, names, (l) => l.total.in === 180, 90_000);
    expect(ledger.total).toMatchObject({ in: 180, raw: 110, duplicates: 70, dead_letter: 0, suppressed: 0 });

    // FLUSHALL, then copies of the records of the second wave and of the first.
    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    // And a new customer with the email and name of one from before both losses: the near-duplicate state is rebuilt too.
    const flaggedBefore = ledger.total.near_duplicates;
    const again = json(variant(crmProfile, { customer_id: 'C-900', email: 'c3@example.com', phone: null, last_name: 'N3' }));
    await produce(kafka, names.ingest('crm'), [...range(60, 80, profile), ...range(0, 5, profile), again]);
    await produce(kafka, names.ingest('web'), range(25, 30, event));
    ledger = await waitForLedger(kafka, names, (l) => l.total.in === 211, 90_000);
    expect(ledger.total).toMatchObject({ in: 211, raw: 111, duplicates: 100, dead_letter: 0, suppressed: 0, near_duplicates: flaggedBefore + 1 });
    expect(balanced(ledger.total)).toBe(true);
    expect({ crm: await rawCount('crm'), web: await rawCount('web') }).toEqual({ crm: 81, web: 30 });
  });
});
