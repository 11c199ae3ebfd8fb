/** The ops endpoint a long-running command serves, with readiness checks of the dependencies it needs. */
import type { Config } from '../config.js';
import type { GroupMembership } from '../kafka/membership.js';
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

/** /readyz needs the worker's consumer in its group with partitions; /healthz fails once it has crashed for good. */
export function watchGroup(ops: OpsServer, membership: () => GroupMembership | undefined): void {
  ops.addReadinessCheck('group', async () => {
    const m = membership();
    if (!m) throw new Error('the worker is still starting');
    m.assertReady();
  });
  ops.addLivenessCheck('consumer', () => membership()?.assertAlive());
}

/** /readyz fails while the worker's partitions wait on a dependency that fails or refuses, naming it and what it said. */
export function watchWaits(ops: OpsServer, waitingOn: () => string[]): void {
  ops.addReadinessCheck('dependencies', async () => {
    const waits = waitingOn();
    if (waits.length > 0) throw new Error(waits.join('; '));
  });
}
