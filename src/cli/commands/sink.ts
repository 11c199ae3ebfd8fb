import type { Command } from 'commander';
import { startStoppable } from '../shutdown.js';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { startOpsServer } from '../../observability/ops-server.js';
import { kafkaAnswers } from '../../observability/probes.js';
import { SinkWorker } from '../../sinks/sink-worker.js';
import { loadTopology } from '../../topology/load.js';

const int = (v: string) => Number(v);

export function registerSinkCommands(program: Command): void {
  program
    .command('sink')
    .description('Start a sink worker: drain the raw, near-duplicate and dead-letter topics into the raw layer (Parquet, exactly once). Several workers share the partitions.')
    .option('-t, --topology <name|file>', 'topology name in topologies/, or a .js/.json file', 'customer360')
    .option('-n, --namespace <prefix>', "override the topology's namespace")
    .option('--storage <url>', 'raw layer root: a folder or s3://bucket/prefix (default C360_STORAGE_URL, else C360_DATA_DIR)')
    .option('--group <id>', 'consumer group (default <namespace>.sink); another group lands the same topics in another store')
    .option('--max-records <n>', 'close a file after this many records', int)
    .option('--max-bytes <n>', 'close a file before its input bytes pass this', int)
    .option('--max-span-ms <ms>', 'close a file when its records span this much record time', int)
    .option('--idle-flush-ms <ms>', 'close a file that has had no record for this long (wall clock)', int)
    .option('--row-group-rows <n>', 'rows per Parquet row group (bounds memory per open file)', int)
    .option('--session-timeout <ms>', 'consumer session timeout', int, 30_000)
    .option('--ops-port <port>', 'port of /metrics, /healthz, /readyz (default C360_OPS_PORT; 0 picks one)', int)
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
      }) => {
        const config = loadConfig(options.storage ? { ...process.env, C360_STORAGE_URL: options.storage } : process.env);
        const logger = createLogger(config.logLevel);
        const topology = await loadTopology(options.topology, options);
        const registry = metricsRegistry();
        const rotation = Object.fromEntries(
          Object.entries({ maxRecords: options.maxRecords, maxBytes: options.maxBytes, maxSpanMs: options.maxSpanMs, idleFlushMs: options.idleFlushMs, rowGroupRows: options.rowGroupRows }).filter(([, v]) => v !== undefined),
        );
        const worker = new SinkWorker({ config, topology, logger, metrics: registry, rotation, ...(options.group ? { groupId: options.group } : {}), sessionTimeoutMs: options.sessionTimeout, onFatal: () => process.exit(1) });
        const ops = await startOpsServer({ registry, port: options.opsPort ?? config.opsPort });
        ops.addReadinessCheck('kafka', async () => {
          if (!(await kafkaAnswers(config.kafka.brokers))) throw new Error('Kafka does not answer');
        });
        await startStoppable(logger.child({ group: worker.groupId }), 'sink worker', () => worker.start(), async () => {
          await worker.stop();
          await ops.close();
        });
        logger.info({ opsPort: ops.port, store: worker.store.url }, 'sink listening');
      },
    );
}
