import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { ConfigError } from '../../contracts/errors.js';
import { runConnector } from '../../extraction/connectors/connector.js';
import { loadConnector } from '../../extraction/connectors/index.js';
import { extractionMetrics } from '../../extraction/metrics.js';
import { createKafka } from '../../kafka/client.js';
import { toolLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { startTracing } from '../../observability/tracing.js';
import { openKeyStore } from '../../privacy/key-store.js';
import { pseudonymsFrom } from '../../privacy/pseudonyms.js';
import { RecordPrivacy } from '../../privacy/records.js';
import { UnidentifiedSealer } from '../../privacy/sealed.js';
import { compilePrimaryEntity } from '../../schema/entity.js';
import { openObjectStore } from '../../storage/backends.js';
import { loadTopology } from '../../topology/load.js';
import { deadLetterContract, prepareTopologyTopics } from '../../topology/setup.js';
import { serveOps } from '../ops.js';
import { existingFile, milliseconds, report, type TopologyOptions, withJson, withOpsPort, withTopology } from '../options.js';
import { stopSignal } from '../shutdown.js';

export function registerConnectCommands(program: Command): void {
  withJson(withOpsPort(withTopology(program.command('connect'))))
    .description('Run a REST API connector (incremental sync): each page and the position after it are committed in one Kafka transaction.')
    .requiredOption(
      '-c, --config <file>',
      'connector config (JSON): url, headers, recordsPath, pagination, updatedSince, rateLimitPerSecond, maxRetries',
      existingFile,
    )
    .option('--once', 'stop once caught up instead of syncing again every --interval', false)
    .option('--interval <ms>', 'time between incremental syncs', milliseconds(1), 60_000)
    .action(async (o: TopologyOptions & { config: string; once: boolean; interval: number; opsPort?: number; json: boolean }) => {
      const config = loadConfig();
      startTracing(config.tracing, 'connect');
      const logger = toolLogger(config.logLevel);
      const stop = stopSignal(logger, 'the connector');
      const topology = await loadTopology(o.topology, o);
      const connector = loadConnector(o.config);
      const definition = topology.sources.find((s) => s.name === connector.source);
      if (!definition) throw new ConfigError(`connector ${connector.name}: source ${connector.source} is not a source of topology ${topology.name}.`);
      const kafka = createKafka(config, logger, 'connector');
      await prepareTopologyTopics(kafka, topology, config);
      const deadLetter = await deadLetterContract(config, kafka, topology.namespace);
      const keyStore = openKeyStore(config, topology.namespace);
      const sealer = new UnidentifiedSealer(keyStore, new RecordPrivacy(pseudonymsFrom(config, 'c360 connect')));
      // A one-shot sync is a job, not a service: only a connector that keeps syncing serves the ops endpoints.
      const ops = o.once ? undefined : await serveOps(config, o.opsPort, ['kafka'], logger);
      const metrics = extractionMetrics(metricsRegistry());
      try {
        const run = await runConnector({
          kafka,
          namespace: topology.namespace,
          connector,
          entity: compilePrimaryEntity(definition),
          logger,
          once: o.once,
          intervalMs: o.interval,
          signal: stop,
          deadLetter,
          store: openObjectStore(config),
          sealer,
          maxRecordBytes: topology.maxRecordBytes,
          onPage: (records, deadLettered) => {
            metrics.pages.inc({ connector: connector.name });
            metrics.records.inc({ connector: connector.name }, records);
            metrics.connectorDeadLettered.inc({ connector: connector.name }, deadLettered);
          },
          onRetry: () => metrics.connectorRetries.inc({ connector: connector.name }),
        });
        report(o, { connector: connector.name, ...run, stopped: stop.aborted }, () =>
          console.log(
            `${connector.name}: ${run.pages} page(s), ${run.records} record(s) committed, ${run.deadLettered} dead-lettered${stop.aborted ? ' (stopped)' : ''}`,
          ),
        );
      } finally {
        await ops?.close();
        await keyStore.close();
      }
    });
}
