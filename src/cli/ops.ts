/** The ops endpoint a long-running command serves, with readiness checks of the dependencies it needs. */
import type { Config } from '../config.js';
import { metricsRegistry } from '../observability/metrics.js';
import { type OpsServer, startOpsServer } from '../observability/ops-server.js';
import { kafkaAnswers, postgresAnswers, redisAnswers, registryAnswers } from '../observability/probes.js';

const CHECKS = {
  kafka: (config: Config) => kafkaAnswers(config.kafka),
  redis: (config: Config) => redisAnswers(config.redisUrl),
  registry: (config: Config) => registryAnswers(config.schemaRegistry),
  'key store': (config: Config) => postgresAnswers(config.keyStoreUrl),
};

export async function serveOps(config: Config, port: number | undefined, needs: Array<keyof typeof CHECKS>): Promise<OpsServer> {
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
  return ops;
}
