/**
 * The operations endpoint every long-running process mounts: /metrics (Prometheus text),
 * /healthz (the process is alive) and /readyz (every registered check passes).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { describeError } from '../contracts/errors.js';

type ReadinessCheck = () => Promise<void>;

export interface OpsServer {
  readonly port: number;
  addReadinessCheck(name: string, check: ReadinessCheck): void;
  close(): Promise<void>;
}

export async function startOpsServer(options: { registry: Registry; port: number; host?: string }): Promise<OpsServer> {
  const checks = new Map<string, ReadinessCheck>();

  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, JSON.stringify({ error: 'method not allowed' }));
    if (url === '/healthz') return reply(200, JSON.stringify({ status: 'ok' }));
    if (url === '/metrics') {
      options.registry
        .metrics()
        .then((text) => reply(200, text, options.registry.contentType))
        .catch((err: unknown) => reply(500, JSON.stringify({ error: describeError(err) })));
      return;
    }
    if (url === '/readyz') {
      void runChecks(checks).then((failures) =>
        reply(failures.length === 0 ? 200 : 503, JSON.stringify({ status: failures.length === 0 ? 'ready' : 'not ready', failures })),
      );
      return;
    }
    reply(404, JSON.stringify({ error: 'not found' }));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });

  return {
    port: (server.address() as AddressInfo).port,
    addReadinessCheck: (name, check) => void checks.set(name, check),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function runChecks(checks: Map<string, ReadinessCheck>): Promise<{ check: string; error: string }[]> {
  const results = await Promise.all(
    [...checks].map(async ([name, check]) => {
      try {
        await check();
        return undefined;
      } catch (err) {
        return { check: name, error: describeError(err) };
      }
    }),
  );
  return results.filter((r): r is { check: string; error: string } => r !== undefined);
}
