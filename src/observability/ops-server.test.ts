import { Counter } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { metricsRegistry } from './metrics.js';
import { startOpsServer } from './ops-server.js';

describe('ops server', async () => {
  const registry = metricsRegistry();
  new Counter({ name: 'c360_test_total', help: 'test counter', registers: [registry] }).inc(3);
  const server = await startOpsServer({ registry, port: 0 });
  const base = `http://127.0.0.1:${server.port}`;
  afterAll(() => server.close());

  it('serves Prometheus metrics with default Node metrics and component metrics', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('c360_test_total{service="c360-ingest"} 3');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('answers /healthz while alive and /readyz by its checks', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    let kafkaUp = false;
    server.addReadinessCheck('kafka', async () => {
      if (!kafkaUp) throw new Error('no broker');
    });
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', failures: [{ check: 'kafka', error: 'no broker' }] });
    kafkaUp = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
