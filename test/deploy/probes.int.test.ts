// The ops endpoints say what a kubelet should act on, each made false by causing it: a worker
// beyond its group's partitions holds none and is not ready (while the other is), and the Kafka
// probe uses the workers' own TLS and SASL settings, so a secured cluster is not "reachable" to a
// probe that ignores them (before, /readyz connected in plain text whatever KAFKA_SSL said).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaAnswers, registryAnswers } from '../../src/observability/probes.js';
import { config } from '../support/kafka.js';
import { testNamespace } from '../support/topology.js';
import { opsUrl, spawnWorker, type Worker } from '../support/worker.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-probes-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function readyz(worker: Worker): Promise<{ status: number; failures: Array<{ check: string; error: string }> }> {
  const url = opsUrl(worker);
  if (!url) return { status: 0, failures: [] };
  let cause = '';
  const r = await fetch(`${url}/readyz`).catch((err: Error & { cause?: { code?: string; message?: string } }) => {
    cause = `${err.cause?.code} ${err.cause?.message}`;
    return undefined;
  });
  if (!r)
    throw new Error(`the worker stopped answering (${cause}; exit ${worker.child.exitCode}, ${worker.child.signalCode}): ${worker.output().slice(-1500)}`);
  return { status: r.status, failures: ((await r.json()) as { failures?: Array<{ check: string; error: string }> }).failures ?? [] };
}

describe('/readyz of topology workers', () => {
  it('is ready for the worker that holds the only partition, and not for the one that holds none', async () => {
    // One source of one partition: a second worker in the group gets nothing to do.
    const topology = path.join(dir, 'one-partition.json');
    fs.writeFileSync(
      topology,
      JSON.stringify({
        name: 'one-partition',
        namespace: 'unused',
        stages: ['decode'],
        sources: [{ name: 'crm', entity: 'CustomerProfile', key: 'customer_id', partitions: 1 }],
      }),
    );
    const ns = testNamespace();
    const env = { LOG_LEVEL: 'info' };
    const workers = [spawnWorker(ns, env, ['--topology', topology]), spawnWorker(ns, env, ['--topology', topology])];
    try {
      const deadline = Date.now() + 90_000;
      let states: Array<Awaited<ReturnType<typeof readyz>>> = [];
      for (;;) {
        states = await Promise.all(workers.map(readyz));
        // Until the group has settled: one member with the partition, the other joined with none.
        if (states.filter((s) => s.status === 200).length === 1 && states.some((s) => s.failures.some((f) => f.error.includes('holds no partition')))) break;
        if (Date.now() > deadline)
          throw new Error(`never one ready and one idle: ${JSON.stringify(states)} ${workers.map((w) => w.output().slice(-1500)).join('\n---\n')}`);
        await sleep(250);
      }
      const idle = states.find((s) => s.status !== 200)!;
      expect(idle).toEqual({ status: 503, failures: [{ check: 'group', error: 'the consumer holds no partition (more workers than partitions)' }] });
    } finally {
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  });
});

describe('the Kafka probe', () => {
  it('answers with the settings the broker expects, and not with TLS or SASL it does not speak', async () => {
    expect(await kafkaAnswers(config.kafka)).toBe(true);
    expect(await kafkaAnswers({ ...config.kafka, ssl: true })).toBe(false);
    expect(await kafkaAnswers({ ...config.kafka, sasl: { mechanism: 'scram-sha-512', username: 'c360', password: 'wrong' } })).toBe(false);
  });

  it('the registry probe answers for the registry, and not for a port where none listens', async () => {
    expect(await registryAnswers(config.schemaRegistry)).toBe(true);
    expect(await registryAnswers({ ...config.schemaRegistry, url: 'http://127.0.0.1:1/apis/ccompat/v7' })).toBe(false);
  });
});
