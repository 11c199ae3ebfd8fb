import { type Command, Option } from 'commander';
import { createLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { startTracing } from '../../observability/tracing.js';
import { SinkWorker } from '../../sinks/sink-worker.js';
import { loadTopology } from '../../topology/load.js';
import { serveOps, watchWorker } from '../ops.js';
import { configCreatingTopics, configWithStorage, integer, milliseconds, withCreateTopics, withOpsPort, withSessionTimeout, withTopology } from '../options.js';
import { startStoppable } from '../shutdown.js';

export function registerSinkCommands(program: Command): void {
  withCreateTopics(withSessionTimeout(withOpsPort(withTopology(program.command('sink')))))
    .description(
      'Start a sink worker: drain the raw, near-duplicate and dead-letter topics into the raw layer (Parquet, exactly once). Several workers share the partitions.',
    )
    .option('--storage <url>', 'raw layer root: a folder or s3://bucket/prefix (default C360_STORAGE_URL, else C360_DATA_DIR)')
    .option('--group <id>', 'consumer group (default <namespace>.sink); another group lands the same topics in another store')
    .option('--max-records <n>', 'close a file after this many records', integer(1))
    .option('--max-bytes <n>', 'close a file before its input bytes pass this', integer(1024))
    .option('--max-span-ms <ms>', 'close a file when its records span this much record time', integer(1))
    .addOption(
      new Option('--idle-flush-ms <ms>', 'close a file that has had no record for this long (wall clock)')
        .env('C360_SINK_IDLE_FLUSH_MS')
        .argParser(milliseconds(1)),
    )
    .option('--row-group-rows <n>', 'rows per Parquet row group (bounds memory per open file)', integer(1))
    .action(
      async (options: {
        topology: string;
        namespace?: string;
        storage?: string;
        group?: string;
        maxRecords?: number;
        maxBytes?: number;
        maxSpanMs?: number;
        idleFlushMs?: number;
        rowGroupRows?: number;
        sessionTimeout: number;
        opsPort?: number;
        createTopics?: boolean;
      }) => {
        const config = configCreatingTopics(configWithStorage(options.storage), options.createTopics);
        startTracing(config.tracing, 'sink');
        const logger = createLogger(config.logLevel);
        const topology = await loadTopology(options.topology, options);
        const registry = metricsRegistry();
        const rotation = Object.fromEntries(
          Object.entries({
            maxRecords: options.maxRecords,
            maxBytes: options.maxBytes,
            maxSpanMs: options.maxSpanMs,
            idleFlushMs: options.idleFlushMs,
            rowGroupRows: options.rowGroupRows,
          }).filter(([, v]) => v !== undefined),
        );
        const worker = new SinkWorker({
          config,
          topology,
          logger,
          metrics: registry,
          rotation,
          ...(options.group ? { groupId: options.group } : {}),
          sessionTimeoutMs: options.sessionTimeout,
          onFatal: () => process.exit(1),
        });
        const ops = await serveOps(config, options.opsPort, ['kafka', 'registry'], logger);
        watchWorker(ops, worker.worker);
        await startStoppable(
          logger.child({ group: worker.groupId }),
          'sink worker',
          () => worker.start(),
          async () => {
            await worker.stop();
            await ops.close();
          },
        );
        logger.info({ store: worker.store.url }, 'sink listening');
      },
    );
}
