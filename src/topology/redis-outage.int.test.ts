import { type ChildProcess, spawn } from 'node:child_process';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { crmProfile, variant } from '../../test/fixtures/records.js';
import { logger, testKafka } from '../../test/support/kafka.js';
import { json, produce, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { loadConfig } from '../config.js';
import { topicNames } from '../contracts/topics.js';
import { redisAnswers } from '../observability/probes.js';
import { loadTopology } from './load.js';
import { TopologyRunner } from './runner.js';

const kafka = testKafka();
const port = 16_379 + Math.floor(Math.random() * 1000);
const redisUrl = `redis://127.0.0.1:${port}`;

function startRedis(): ChildProcess {
  return spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

async function until(probe: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Redis outage: the dedup stage holds the batch and retries; nothing passes unchecked, nothing is dropped', () => {
  let redis = startRedis();
  let runner: TopologyRunner | undefined;
  afterAll(async () => {
    await runner?.stop();
    redis.kill('SIGKILL');
  });

  it('pauses while Redis is down and lands every record once it is back', async () => {
    await until(() => redisAnswers(redisUrl), 'the private redis-server');
    const namespace = testNamespace();
    const names = topicNames(namespace);
    const metrics = new Registry();
    runner = new TopologyRunner({
      config: { ...loadConfig(), redisUrl },
      topology: await loadTopology('customer360', { namespace }),
      logger,
      metrics,
      sessionTimeoutMs: 6_000,
    });
    await runner.start();
    const profile = (i: number) => json(variant(crmProfile, { customer_id: `C-${i}`, email: `c${i}@example.com`, phone: null, last_name: `N${i}` }));

    await produce(
      kafka,
      names.ingest('crm'),
      Array.from({ length: 100 }, (_, i) => profile(i)),
    );
    await waitForLedger(kafka, names, (l) => l.total.in === 100);

    redis.kill('SIGKILL');
    await new Promise((r) => redis.once('exit', r));
    await produce(
      kafka,
      names.ingest('crm'),
      Array.from({ length: 50 }, (_, i) => profile(100 + i)),
    );
    const retries = async () => (await metrics.getSingleMetric('c360_topology_dependency_retries_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    await until(async () => (await retries()) >= 3, 'the stage to retry against the dead Redis');
    const during = await waitForLedger(kafka, names, (l) => l.total.in >= 100);
    expect(during.total.in).toBe(100);

    redis = startRedis();
    const after = await waitForLedger(kafka, names, (l) => l.total.in === 150, 60_000);
    expect(after.total).toMatchObject({ in: 150, raw: 150, duplicates: 0, dead_letter: 0 });
  });
});
