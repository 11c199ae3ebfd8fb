import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { ConfigError } from '../../contracts/errors.js';
import { runConnector } from '../../extraction/connectors/connector.js';
import { loadConnector } from '../../extraction/connectors/index.js';
import { extractionMetrics } from '../../extraction/metrics.js';
import { createKafka } from '../../kafka/client.js';
import { toolLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { compilePrimaryEntity } from '../../schema/entity.js';
import { loadTopology } from '../../topology/load.js';
import { prepareTopologyTopics } from '../../topology/setup.js';
import { serveOps } from '../ops.js';
import { existingFile, integer, type TopologyOptions, withOpsPort, withTopology } from '../options.js';

export function registerConnectCommands(program: Command): void {
  withOpsPort(withTopology(program.command('connect')))
    .description('Run a REST API connector (incremental sync): each page and the position after it are committed in one Kafka transaction.')
    .requiredOption(
      '-c, --config <file>',
      'connector config (JSON): url, headers, recordsPath, pagination, updatedSince, rateLimitPerSecond, maxRetries',
      existingFile,
    )
    .option('--once', 'stop once caught up instead of syncing again every --interval', false)
    .option('--interval <ms>', 'time between incremental syncs', integer(1), 60_000)
    .action(async (o: TopologyOptions & { config: string; once: boolean; interval: number; opsPort?: number }) => {
      const config = loadConfig();
      const topology = await loadTopology(o.topology, o);
      const connector = loadConnector(o.config);
      const definition = topology.sources.find((s) => s.name === connector.source);
      if (!definition) throw new ConfigError(`connector ${connector.name}: source ${connector.source} is not a source of topology ${topology.name}.`);
      const logger = toolLogger(config.logLevel);
      const kafka = createKafka(config, logger, 'connector');
      await prepareTopologyTopics(kafka, topology, config);
      // A one-shot sync is a job, not a service: only a connector that keeps syncing serves the ops endpoints.
      const ops = o.once ? undefined : await serveOps(config, o.opsPort, ['kafka'], logger);
      const metrics = extractionMetrics(metricsRegistry());
      const abort = new AbortController();
      process.once('SIGTERM', () => abort.abort());
      process.once('SIGINT', () => abort.abort());
      try {
        const run = await runConnector({
          kafka,
          namespace: topology.namespace,
          connector,
          entity: compilePrimaryEntity(definition),
          logger,
          once: o.once,
          intervalMs: o.interval,
          signal: abort.signal,
          onPage: (records) => {
            metrics.pages.inc({ connector: connector.name });
            metrics.records.inc({ connector: connector.name }, records);
          },
        });
        console.log(`${connector.name}: ${run.pages} page(s), ${run.records} record(s) committed`);
      } finally {
        await ops?.close();
      }
    });
}
