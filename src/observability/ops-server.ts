/**
 * The operations endpoint every long-running process mounts: /metrics (Prometheus text),
 * /healthz (the process is not wedged: its event loop has not stalled, and every liveness check
 * passes) and /readyz (every readiness check passes). A kubelet restarts what fails /healthz and
 * sends no work to what fails /readyz, so each says only what it means.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { describeError, listenFailure } from '../contracts/errors.js';

const TICK_MS = 100;

type ReadinessCheck = () => Promise<void>;
type LivenessCheck = () => void;

export interface OpsServer {
  readonly port: number;
  addReadinessCheck(name: string, check: ReadinessCheck): void;
  /** A check /healthz runs: throws when the process is wedged and only a restart helps. */
  addLivenessCheck(name: string, check: LivenessCheck): void;
  close(): Promise<void>;
}

export interface OpsServerOptions {
  registry: Registry;
  port: number;
  /** 127.0.0.1 for local use; 0.0.0.0 in a pod, where the kubelet and Prometheus reach it. */
  host: string;
  /** /healthz fails when the event loop was blocked longer than this since the last probe. */
  maxEventLoopStallMs?: number;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const checks = new Map<string, ReadinessCheck>();
  const liveness = new Map<string, LivenessCheck>();
  // The worst event-loop block since the last /healthz, seen by a ticking timer (a late tick is a blocked loop):
  // a loop blocked for seconds cannot be serving its consumer. A block that is still going on never answers at all.
  const maxStallMs = options.maxEventLoopStallMs ?? 10_000;
  let lastTick = performance.now();
  let worstBlockMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    worstBlockMs = Math.max(worstBlockMs, now - lastTick - TICK_MS);
    lastTick = now;
  }, TICK_MS);
  ticker.unref();
  liveness.set('event loop', () => {
    const worst = worstBlockMs;
    worstBlockMs = 0;
    if (worst > maxStallMs) throw new Error(`the event loop was blocked for ${Math.round(worst)} ms (over ${maxStallMs} ms)`);
  });

  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, JSON.stringify({ error: 'method not allowed' }));
    if (url === '/healthz') {
      const failures = runLiveness(liveness);
      return reply(failures.length === 0 ? 200 : 503, JSON.stringify({ status: failures.length === 0 ? 'ok' : 'wedged', failures }));
    }
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
    server.once('error', (err) => {
      clearInterval(ticker);
      reject(listenFailure('/metrics, /healthz and /readyz', options.host, options.port, '--ops-port, C360_OPS_PORT and C360_HOST', err));
    });
    server.listen(options.port, options.host, () => resolve());
  });

  return {
    port: (server.address() as AddressInfo).port,
    addReadinessCheck: (name, check) => void checks.set(name, check),
    addLivenessCheck: (name, check) => void liveness.set(name, check),
    close: () =>
      new Promise((resolve) => {
        clearInterval(ticker);
        server.close(() => resolve());
      }),
  };
}

function runLiveness(checks: Map<string, LivenessCheck>): { check: string; error: string }[] {
  const failures: { check: string; error: string }[] = [];
  for (const [name, check] of checks) {
    try {
      check();
    } catch (err) {
      failures.push({ check: name, error: describeError(err) });
    }
  }
  return failures;
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
