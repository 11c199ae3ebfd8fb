/** The ops endpoint a long-running command serves, with readiness checks of the dependencies it needs. */
import type { Config } from '../config.js';
import type { GroupWorker } from '../kafka/worker/group-worker.js';
import type { Logger } from '../observability/logger.js';
import { metricsRegistry } from '../observability/metrics.js';
import { type OpsServer, startOpsServer } from '../observability/ops-server.js';
import { kafkaAnswers, postgresAnswers, redisAnswers, registryAnswers } from '../observability/probes.js';

const CHECKS = {
  kafka: (config: Config) => kafkaAnswers(config.kafka),
  redis: (config: Config) => redisAnswers(config.redisUrl),
  registry: (config: Config) => registryAnswers(config.schemaRegistry),
  'key store': (config: Config) => postgresAnswers(config.keyStoreUrl),
};

/** Starts the ops endpoint before the work starts, so a probe gets an answer ("not ready: starting") from the first moment. */
export async function serveOps(config: Config, port: number | undefined, needs: Array<keyof typeof CHECKS>, logger: Logger): Promise<OpsServer> {
  const ops = await startOpsServer({
    registry: metricsRegistry(),
    port: port ?? config.opsPort,
    host: config.host,
    maxEventLoopStallMs: config.maxEventLoopStallMs,
  });
  for (const name of needs) {
    ops.addReadinessCheck(name, async () => {
      if (!(await CHECKS[name](config))) throw new Error(`${name} does not answer`);
    });
  }
  logger.info({ opsPort: ops.port, host: config.host }, 'ops endpoint listening');
  return ops;
}

/**
 * What /readyz and /healthz say of a consuming worker: ready once its consumer is in its group with
 * partitions, and while none of them waits on a failing dependency (naming it and what it said) or,
 * with `stallMs`, has had records waiting that long without moving; alive until the consumer crashed for good.
 */
export function watchWorker(ops: OpsServer, worker: GroupWorker, stallMs?: number): void {
  ops.addReadinessCheck('group', async () => {
    if (!worker.membership) throw new Error('the worker is still starting');
    worker.membership.assertReady();
  });
  ops.addLivenessCheck('consumer', () => worker.membership?.assertAlive());
  ops.addReadinessCheck('dependencies', async () => {
    const waits = worker.waitingOn();
    if (waits.length > 0) throw new Error(waits.join('; '));
  });
  if (stallMs === undefined) return;
  ops.addReadinessCheck('partitions', async () => {
    const stalled = worker.stalledPartitions(stallMs);
    if (stalled.length > 0) throw new Error(`${stalled.join(', ')} had records waiting over ${stallMs / 1000}s without moving`);
  });
}
