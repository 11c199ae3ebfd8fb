import os from 'node:os';
import { Counter } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { metricsRegistry } from './metrics.js';
import { startOpsServer } from './ops-server.js';

describe('ops server', async () => {
  const registry = metricsRegistry();
  new Counter({ name: 'c360_test_total', help: 'test counter', registers: [registry] }).inc(3);
  const server = await startOpsServer({ registry, port: 0, host: '127.0.0.1', maxEventLoopStallMs: 200 });
  const base = `http://127.0.0.1:${server.port}`;
  afterAll(() => server.close());

  it('serves Prometheus metrics with default Node metrics and component metrics', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('c360_test_total{service="c360-ingest"} 3');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toMatch(
      new RegExp(
        `^c360_build_info\\{version="0\\.1\\.0",commit="[0-9a-f]{12}",node="${process.versions.node.replaceAll('.', '\\.')}",service="c360-ingest"\\} 1$`,
        'm',
      ),
    );
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

  it('fails /healthz once the event loop was blocked past the limit, and recovers at the next probe', async () => {
    await fetch(`${base}/healthz`);
    const until = Date.now() + 400;
    while (Date.now() < until) {
      // a wedged loop: nothing else runs meanwhile
    }
    const wedged = await fetch(`${base}/healthz`);
    expect(wedged.status).toBe(503);
    const body = (await wedged.json()) as { status: string; failures: Array<{ check: string; error: string }> };
    expect(body.status).toBe('wedged');
    expect(body.failures.map((f) => f.check)).toEqual(['event loop']);
    expect(body.failures[0]!.error).toMatch(/^the event loop was blocked for \d+ ms \(over 200 ms\)$/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('fails /healthz when a liveness check says the process is wedged', async () => {
    let crashed = false;
    server.addLivenessCheck('consumer', () => {
      if (crashed) throw new Error('the consumer crashed and will not restart');
    });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    crashed = true;
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'wedged', failures: [{ check: 'consumer', error: 'the consumer crashed and will not restart' }] });
  });

  it('binds where it is told: a non-loopback address is reachable there, loopback only is not', async () => {
    const lan = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    const local = await startOpsServer({ registry, port: 0, host: '127.0.0.1' });
    const all = await startOpsServer({ registry, port: 0, host: '0.0.0.0' });
    try {
      expect((await fetch(`http://127.0.0.1:${all.port}/healthz`)).status).toBe(200);
      if (lan) {
        expect((await fetch(`http://${lan}:${all.port}/healthz`)).status).toBe(200);
        await expect(fetch(`http://${lan}:${local.port}/healthz`)).rejects.toThrow();
      }
    } finally {
      await local.close();
      await all.close();
    }
  });
});
