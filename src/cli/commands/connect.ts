import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { ConfigError } from '../../contracts/errors.js';
import { runConnector } from '../../extraction/connectors/connector.js';
import { loadConnector } from '../../extraction/connectors/index.js';
import { createKafka } from '../../kafka/client.js';
import { toolLogger } from '../../observability/logger.js';
import { compilePrimaryEntity } from '../../schema/entity.js';
import { loadTopology } from '../../topology/load.js';
import { createTopologyTopics } from '../../topology/setup.js';

export function registerConnectCommands(program: Command): void {
  program
    .command('connect')
    .description('Run a REST API connector (incremental sync): each page and the position after it are committed in one Kafka transaction.')
    .requiredOption('-c, --config <file>', 'connector config (JSON): url, headers, recordsPath, pagination, updatedSince, rateLimitPerSecond, maxRetries')
    .option('--once', 'stop once caught up instead of syncing again every --interval', false)
    .option('--interval <ms>', 'time between incremental syncs', (v) => Number(v), 60_000)
    .option('-t, --topology <name|file>', 'topology name in topologies/, or a .js/.json file', 'customer360')
    .option('-n, --namespace <prefix>', "override the topology's namespace")
    .action(async (o: { config: string; once: boolean; interval: number; topology: string; namespace?: string }) => {
      const config = loadConfig();
      const topology = await loadTopology(o.topology, o);
      const connector = loadConnector(o.config);
      const definition = topology.sources.find((s) => s.name === connector.source);
      if (!definition) throw new ConfigError(`connector ${connector.name}: source ${connector.source} is not a source of topology ${topology.name}.`);
      const logger = toolLogger(config.logLevel);
      const kafka = createKafka(config, logger, 'connector');
      await createTopologyTopics(kafka, topology);
      const abort = new AbortController();
      process.once('SIGTERM', () => abort.abort());
      process.once('SIGINT', () => abort.abort());
      const run = await runConnector({ kafka, namespace: topology.namespace, connector, entity: compilePrimaryEntity(definition), logger, once: o.once, intervalMs: o.interval, signal: abort.signal });
      console.log(`${connector.name}: ${run.pages} page(s), ${run.records} record(s) committed`);
    });
}
