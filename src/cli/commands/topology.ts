import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { ConfigError } from '../../contracts/errors.js';
import { balanced, formatLedger, type LedgerEntry, totalsOf } from '../../contracts/ledger.js';
import { topicNames } from '../../contracts/topics.js';
import { createKafka } from '../../kafka/client.js';
import { groupLag } from '../../kafka/lag.js';
import { readToEnd } from '../../kafka/read-to-end.js';
import { existingTopics } from '../../kafka/topics.js';
import { createLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { compilePrimaryEntity } from '../../schema/entity.js';
import { createSchemaRegistry } from '../../schema/registry.js';
import { loadTopology } from '../../topology/load.js';
import { TopologyRunner } from '../../topology/runner.js';
import { createTopologyTopics, registerTopologySchemas } from '../../topology/setup.js';
import { serveOps } from '../ops.js';
import { integer, type TopologyOptions, withOpsPort, withSessionTimeout, withTopology } from '../options.js';
import { startStoppable } from '../shutdown.js';

export function registerTopologyCommands(program: Command): void {
  withSessionTimeout(withOpsPort(withTopology(program.command('run'))))
    .description(
      'Start a topology worker: consume the ingest topics, check, dedup and route every record in Kafka transactions. Several workers share the partitions.',
    )
    .option('--max-batch-bytes <bytes>', 'largest fetch per partition, hence per transaction', integer(1024), 4 * 1024 * 1024)
    .action(async (options: TopologyOptions & { sessionTimeout: number; maxBatchBytes: number; opsPort?: number }) => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel);
      const topology = await loadTopology(options.topology, options);
      const registry = metricsRegistry();
      const runner = new TopologyRunner({
        config,
        topology,
        logger,
        metrics: registry,
        sessionTimeoutMs: options.sessionTimeout,
        maxBatchBytes: options.maxBatchBytes,
        onFatal: () => process.exit(1),
      });
      const ops = await serveOps(config, options.opsPort, ['kafka', 'redis', 'registry', 'key store'], logger);
      ops.addReadinessCheck('group', async () => runner.assertInGroup());
      ops.addLivenessCheck('consumer', () => runner.assertAlive());
      ops.addReadinessCheck('partitions', async () => {
        const stalled = runner.stalledPartitions(config.stallMs);
        if (stalled.length > 0) throw new Error(`${stalled.join(', ')} had records waiting over ${config.stallMs / 1000}s without moving`);
      });
      await startStoppable(
        logger.child({ group: runner.groupId }),
        'topology worker',
        () => runner.start(),
        async () => {
          await runner.stop();
          await ops.close();
          // A worker's stdout is JSON lines only: what it committed is one more log line per source.
          for (const [source, c] of runner.committed()) logger.info({ source, ...c, balanced: balanced(c) }, 'committed by this worker');
        },
      );
    });

  const topics = program.command('topics').description('Kafka topics of a topology.');
  withTopology(topics.command('create'))
    .description('Create every topic of the topology (ingest, raw, near-duplicates, dead-letter, ledger) that does not exist yet.')
    .action(async (options: TopologyOptions) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology, options);
      const created = await createTopologyTopics(createKafka(config, createLogger(config.logLevel)), topology, config.topics);
      console.log(created.length ? `created: ${created.join(', ')}` : 'every topic exists already');
    });

  const schemas = program.command('schemas').description('Avro schemas of a topology in the schema registry.');
  withTopology(schemas.command('register'))
    .description('Register each source entity under <ingest topic>-value and <raw topic>-value, and the dead-letter and near-duplicate schemas.')
    .action(async (options: TopologyOptions) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology, options);
      const ids = await registerTopologySchemas(createSchemaRegistry(config), topology, topology.sources.map(compilePrimaryEntity));
      const names = topicNames(topology.namespace);
      for (const [source, id] of ids.raw) console.log(`${names.raw(source)}-value: ${id}   ${names.ingest(source)}-value: ${ids.ingest.get(source)}`);
      console.log(`${names.deadLetter}-value: ${ids.deadLetter}\n${names.nearDuplicates}-value: ${ids.nearDuplicate}`);
    });

  withTopology(program.command('ledger'))
    .description(
      "Sum the ledger topic: records in, landed raw, exact duplicates dropped, dead-lettered and near-duplicates flagged, per source; and count the records in the ingest topics the topology has not processed yet (its group's lag). Exit 1 if it does not balance or records are unprocessed.",
    )
    .action(async (options: TopologyOptions) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology, options);
      const kafka = createKafka(config, createLogger('error'));
      const names = topicNames(topology.namespace);
      const known = await existingTopics(kafka);
      if (!known.has(names.ledger)) throw new ConfigError(`namespace ${topology.namespace} has no ledger topic ${names.ledger}: nothing has run under it.`);
      const entries: LedgerEntry[] = [];
      await readToEnd(kafka, names.ledger, (m) => entries.push(JSON.parse(m.value!.toString()) as LedgerEntry));
      const totals = totalsOf(entries);
      console.log(formatLedger(totals));
      const ingest = topology.sources.map((s) => names.ingest(s.name)).filter((t) => known.has(t));
      const behind = (await groupLag(kafka, names.topologyGroup, ingest)).filter((l) => l.records > 0);
      const unprocessed = behind.reduce((n, l) => n + l.records, 0);
      console.log(
        unprocessed === 0
          ? 'unprocessed: 0 (the topology has processed every record of its ingest topics)'
          : `unprocessed: ${behind.every((l) => l.exact) ? '' : 'about '}${unprocessed} records not yet processed (${behind.map((l) => `${l.topic}[${l.partition}] ${l.records}`).join(', ')})`,
      );
      if (!balanced(totals.total) || unprocessed > 0) process.exitCode = 1;
    });
}
