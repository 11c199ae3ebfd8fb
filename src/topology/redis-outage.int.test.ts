import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, variant } from '../../test/fixtures/records.js';
import { testKafka } from '../../test/support/kafka.js';
import { PrivateRedis, until } from '../../test/support/redis.js';
import { json, produce, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { opsUrl, spawnWorker } from '../../test/support/worker.js';
import { topicNames } from '../contracts/topic-names.js';
import type { TopologyRunner } from './runner.js';

const kafka = testKafka();
const redis = new PrivateRedis();
const redisUrl = redis.url;

describe('Redis outage: the dedup stage holds the batch and retries; nothing passes unchecked, nothing is dropped', () => {
  let runner: TopologyRunner | undefined;
  beforeAll(() => redis.start());
  afterAll(async () => {
    await runner?.stop();
    await redis.kill();
  });

  it('pauses while Redis is down and lands every record once it is back', async () => {
    const namespace = testNamespace();
    const names = topicNames(namespace);
    const metrics = new Registry();
    const started = (await startTopology(namespace, undefined, { redisUrl, metrics })).runner;
    runner = started;
    const profile = (i: number) => json(variant(crmProfile, { customer_id: `C-${i}`, email: `c${i}@example.com`, phone: null, last_name: `N${i}` }));

    await produce(
      kafka,
      names.ingest('crm'),
      Array.from({ length: 100 }, (_, i) => profile(i)),
    );
    await waitForLedger(kafka, names, (l) => l.total.in === 100);

    await redis.kill();
    await produce(
      kafka,
      names.ingest('crm'),
      Array.from({ length: 50 }, (_, i) => profile(100 + i)),
    );
    const retries = async () => (await metrics.getSingleMetric('c360_topology_dependency_retries_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    await until(async () => (await retries()) >= 3, 'the stage to retry against the dead Redis');
    const during = await waitForLedger(kafka, names, (l) => l.total.in >= 100);
    expect(during.total.in).toBe(100);
    // What /readyz of `c360 run` reports: the partition holding records has not moved for over a second.
    await until(async () => runner!.worker.stalledPartitions(1_000).length > 0, 'the waiting partition to count as stalled');
    expect(runner.worker.stalledPartitions(1_000).every((p) => p.startsWith(`${names.ingest('crm')}[`))).toBe(true);

    await redis.start();
    const after = await waitForLedger(kafka, names, (l) => l.total.in === 150, 60_000);
    expect(after.total).toMatchObject({ in: 150, raw: 150, duplicates: 0, dead_letter: 0 });
    expect(runner.worker.stalledPartitions(0)).toEqual([]);
    // What an on-call engineer reads: transactions committed (none aborted here), nothing in flight, no lag left.
    const values = async (name: string) => (await metrics.getSingleMetric(name)!.get()).values;
    expect((await values('c360_topology_transactions_total')).find((v) => v.labels.outcome === 'committed')!.value).toBeGreaterThan(0);
    expect((await values('c360_topology_records_in_flight'))[0]!.value).toBe(0);
    const lag = (await values('c360_consumer_lag_records')).filter((v) => v.labels.topic === names.ingest('crm'));
    expect(lag.length).toBeGreaterThan(0);
    expect(lag.every((v) => v.value === 0 && v.labels.group === `${namespace}.topology`)).toBe(true);
  });

  it('c360 run says so in /readyz: Redis down, and the partition stalled past C360_STALL_SECONDS; ready again once it moves', async () => {
    const namespace = testNamespace();
    const names = topicNames(namespace);
    const worker = spawnWorker(namespace, { REDIS_URL: redisUrl, C360_STALL_SECONDS: '1', LOG_LEVEL: 'info' });
    try {
      await until(async () => opsUrl(worker) !== undefined, 'the worker to serve its ops endpoint');
      const readyz = `${opsUrl(worker)}/readyz`;
      const ready = async () => {
        const r = await fetch(readyz);
        return { status: r.status, checks: ((await r.json()) as { failures?: Array<{ check: string }> }).failures?.map((f) => f.check) ?? [] };
      };
      await until(async () => (await ready()).status === 200, 'the worker to be ready');

      await redis.kill();
      await produce(kafka, names.ingest('crm'), [json(variant(crmProfile, { customer_id: 'C-stall' }))]);
      // Which shows first depends on how long Redis's first refusal takes against the one-second stall: wait for both.
      await until(async () => {
        const { checks } = await ready();
        return checks.includes('partitions') && checks.includes('dependencies');
      }, '/readyz to report the stalled partition and what it waits on');
      expect(await ready()).toEqual({ status: 503, checks: ['redis', 'dependencies', 'partitions'] });

      await redis.start();
      await until(async () => (await ready()).status === 200, 'the worker to be ready again', 60_000);
      const ledger = await waitForLedger(kafka, names, (l) => l.total.in === 1);
      expect(ledger.total).toMatchObject({ in: 1, raw: 1 });
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });
});
