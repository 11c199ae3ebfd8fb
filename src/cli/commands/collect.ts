import { type Command, Option } from 'commander';
import { loadConfig } from '../../config.js';
import { Collector } from '../../extraction/collector/server.js';
import { loadCollectorSettings } from '../../extraction/collector/settings.js';
import { createKafka } from '../../kafka/client.js';
import { createLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { startTracing } from '../../observability/tracing.js';
import { compilePrimaryEntity } from '../../schema/entity.js';
import { loadTopology } from '../../topology/load.js';
import { prepareTopologyTopics } from '../../topology/setup.js';
import { existingFile, port, withTopology } from '../options.js';
import { startStoppable } from '../shutdown.js';

export function registerCollectCommands(program: Command): void {
  withTopology(program.command('collect'))
    .description(
      "Start the HTTP collector: POST /v1/events (API key per source), /v1/webhooks/<source> (HMAC-signed) and Segment's tracking API (/v1/track, /v1/batch, …; write key per source) into the ingest topics, 2xx only once Kafka has acknowledged.",
    )
    .addOption(
      new Option('-c, --config <file>', 'collector settings (JSON): apiKeys, segmentWriteKeys, webhookSecrets, bodyLimitBytes, maxEventsPerRequest')
        .env('C360_COLLECTOR_CONFIG')
        .argParser(existingFile)
        .makeOptionMandatory(),
    )
    .addOption(new Option('-p, --port <port>', 'port to listen on').env('C360_COLLECTOR_PORT').argParser(port).default(8088))
    .option('--host <address>', 'address to listen on (default C360_HOST: 127.0.0.1, or 0.0.0.0 in the image)')
    .action(async (o: { config: string; port: number; host?: string; topology: string; namespace?: string }) => {
      const config = loadConfig();
      startTracing(config.tracing, 'collect');
      const logger = createLogger(config.logLevel);
      const topology = await loadTopology(o.topology, o);
      const settings = loadCollectorSettings(
        o.config,
        topology.sources.map((s) => s.name),
      );
      const kafka = createKafka(config, logger, 'collector');
      await prepareTopologyTopics(kafka, topology, config);
      const collector = new Collector({
        kafka,
        namespace: topology.namespace,
        entities: new Map(topology.sources.map((s) => [s.name, compilePrimaryEntity(s)])),
        settings,
        maxRecordBytes: topology.maxRecordBytes,
        metrics: metricsRegistry(),
        logger,
      });
      const address = await startStoppable(
        logger,
        'collector',
        () => collector.start(o.port, o.host ?? config.host),
        () => collector.stop(),
      );
      // The line tests and scripts wait for: stdout holds JSON log lines only.
      logger.info({ url: address }, 'collector listening');
    });
}
