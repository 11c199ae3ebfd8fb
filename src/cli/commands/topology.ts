import type { Command } from 'commander';
import { type Config, loadConfig } from '../../config.js';
import { ConfigError, IncompatibleSchemaError } from '../../contracts/errors.js';
import { balanced, formatLedger, type LedgerEntry, totalsOf } from '../../contracts/ledger.js';
import { topicNames } from '../../contracts/topic-names.js';
import { createKafka } from '../../kafka/client.js';
import { groupLag } from '../../kafka/lag.js';
import { readToEnd } from '../../kafka/read-to-end.js';
import { existingTopics, type TopicDrift } from '../../kafka/topic-admin.js';
import { exportVerdicts, failures, followLedger, LedgerHistory } from '../../observability/dataset-checks.js';
import { LagExporter, readGroupState } from '../../observability/lag-exporter.js';
import { createLogger, toolLogger } from '../../observability/logger.js';
import { metricsRegistry } from '../../observability/metrics.js';
import { startTracing } from '../../observability/tracing.js';
import { checkCompatibility, type SubjectCheck, setCompatibility } from '../../schema/compatibility.js';
import { compileEntities } from '../../schema/entity.js';
import { createSchemaRegistry } from '../../schema/registry.js';
import { loadTopology } from '../../topology/load.js';
import { TopologyRunner } from '../../topology/runner.js';
import { registerTopologySchemas, type TopologySubject, topologySubjects, topologyTopicDrift } from '../../topology/setup.js';
import { consumerGroups } from '../../topology/topic-specs.js';
import { serveOps, watchWorker } from '../ops.js';
import {
  configCreatingTopics,
  integer,
  report,
  type ServeOptions,
  type TopologyOptions,
  withCreateTopics,
  withJson,
  withOpsPort,
  withServe,
  withSessionTimeout,
  withTopology,
} from '../options.js';
import { everyUntilStopped, startStoppable, stopSignal } from '../shutdown.js';

export function registerTopologyCommands(program: Command): void {
  withServe(withJson(withTopology(program.command('lag'))), 'reads of the brokers', 15_000)
    .description(
      "Consumer-group lag as the brokers see it: each group's committed offset, the partition's end and the difference, and the group's members. With --serve, exports them on the ops port (c360_group_lag_records, c360_group_committed_offset, c360_group_members) every --interval until SIGTERM: lag that outlives the workers, for alerts on a stalled or stopped group.",
    )
    .action(async (o: TopologyOptions & ServeOptions & { json: boolean }) => {
      const config = loadConfig();
      const logger = toolLogger(config.logLevel);
      const topology = await loadTopology(o.topology, o);
      const kafka = createKafka(config, logger, 'lag');
      const known = await existingTopics(kafka);
      const groups = consumerGroups(topology).map((g) => ({ ...g, topics: g.topics.filter((t) => known.has(t)) }));
      if (!o.serve) {
        const admin = kafka.admin();
        await admin.connect();
        try {
          const { partitions, members } = await readGroupState(admin, groups);
          const byGroup = groups.map((g) => {
            const mine = partitions.filter((p) => p.group === g.group).map(({ group: _, ...p }) => p);
            return { group: g.group, members: members.get(g.group) ?? 0, lag: mine.reduce((n, p) => n + p.lag, 0), partitions: mine };
          });
          report(o, { groups: byGroup }, () => {
            for (const g of byGroup) {
              console.log(`${g.group}: ${g.members} member(s), lag ${g.lag}`);
              for (const p of g.partitions.filter((x) => x.lag > 0))
                console.log(`  ${p.topic}[${p.partition}] committed ${p.committed}, end ${p.end}, lag ${p.lag}`);
            }
          });
        } finally {
          await admin.disconnect();
        }
        return;
      }
      const stop = stopSignal(logger, 'the lag exporter');
      const ops = await serveOps(config, o.opsPort, ['kafka'], logger);
      const exporter = new LagExporter(kafka, groups, metricsRegistry(), logger);
      try {
        await everyUntilStopped(stop, o.interval, () => exporter.poll());
      } finally {
        await ops.close();
      }
    });

  withServe(withJson(withTopology(program.command('checks'))), 'evaluations', 60_000)
    .description(
      "Dataset checks from the ledger: each source's last complete hour, and each of its events', against the same hour of the four weeks before (per source silent, volume_low, volume_high, quarantine_share, new_code; per event the volume checks, new_event, null_share, new_property, vanished_property). Exit 1 if one fails. With --serve, exports them (c360_dataset_check_failing) every --interval until SIGTERM.",
    )
    .action(async (o: TopologyOptions & ServeOptions & { json: boolean }) => {
      const config = loadConfig();
      const logger = toolLogger(config.logLevel);
      const topology = await loadTopology(o.topology, o);
      const kafka = createKafka(config, logger, 'checks');
      const names = topicNames(topology.namespace);
      if (!(await existingTopics(kafka)).has(names.ledger))
        throw new ConfigError(`namespace ${topology.namespace} has no ledger topic ${names.ledger}: nothing has run under it.`);
      const history = new LedgerHistory();
      const stop = o.serve ? stopSignal(logger, 'the dataset checks') : undefined;
      const ops = o.serve ? await serveOps(config, o.opsPort, ['kafka'], logger) : undefined;
      const follower = await followLedger(kafka, names.ledger, history, Date.now(), logger);
      try {
        await follower.caughtUp;
        if (!o.serve) {
          const verdicts = history.evaluate(Date.now());
          report(o, { verdicts }, () => {
            for (const v of verdicts) {
              const failing = failures(v);
              const state = v.learning ? 'learning (under a week of history)' : failing.length ? 'FAIL' : 'ok';
              console.log(`${v.source} ${v.hour}: ${v.records} records, ${state}`);
              for (const c of failing) console.log(`  ${c.event === undefined ? '' : `${c.event}: `}${c.check}: ${c.detail}`);
            }
          });
          if (verdicts.some((v) => failures(v).length > 0)) process.exitCode = 1;
          return;
        }
        await everyUntilStopped(stop!, o.interval, () => {
          history.prune(Date.now());
          exportVerdicts(metricsRegistry(), history.evaluate(Date.now()));
        });
      } finally {
        await follower.stop();
        await ops?.close();
      }
    });

  withCreateTopics(withSessionTimeout(withOpsPort(withTopology(program.command('run')))))
    .description(
      'Start a topology worker: consume the ingest topics, check, dedup and route every record in Kafka transactions. Several workers share the partitions.',
    )
    .option(
      '--max-batch-bytes <bytes>',
      'largest fetch per partition, hence per transaction (default: 1/1024 of C360_MEMORY_MB, 4 MiB without it); the batches worked on at once hold at most six of the default size, so larger ones run fewer at a time',
      integer(1024),
    )
    .action(async (options: TopologyOptions & { sessionTimeout: number; maxBatchBytes: number; opsPort?: number; createTopics?: boolean }) => {
      const config = configCreatingTopics(loadConfig(), options.createTopics);
      startTracing(config.tracing, 'run');
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
      watchWorker(ops, runner.worker, config.stallMs);
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
  const printDrift = (drift: TopicDrift[], fixed: boolean) => {
    for (const d of drift) {
      if (d.setting === 'topic') console.log(`${d.topic}: ${fixed ? 'created' : 'missing'}`);
      else console.log(`${d.topic}: ${d.setting} ${fixed ? 'set to' : 'should be'} ${d.want} (${fixed ? 'was' : 'is'} ${d.have})${d.why ? `: ${d.why}` : ''}`);
    }
  };

  withJson(withTopology(topics.command('create')))
    .description(
      "Make the cluster's topics match the topology: create the missing ones, add partitions, set their configs; say what it cannot change (fewer partitions, replication) and exit 1 if anything is left.",
    )
    .action(async (options: TopologyOptions & { json: boolean }) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology, options);
      const { fixed, left } = await topologyTopicDrift(createKafka(config, createLogger('error')), topology, config.topics, true);
      report(options, { fixed, left }, () => {
        printDrift(fixed, true);
        printDrift(left, false);
        if (fixed.length === 0 && left.length === 0) console.log('every topic matches the topology');
      });
      if (left.length > 0) process.exitCode = 1;
    });

  withJson(withTopology(topics.command('check')))
    .description(
      "Compare the cluster's topics with the topology (existence, partitions, replication, retention, compaction, min.insync.replicas) without changing anything, for a CI pipeline: exit 1 on any drift.",
    )
    .action(async (options: TopologyOptions & { json: boolean }) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology, options);
      const { left } = await topologyTopicDrift(createKafka(config, createLogger('error')), topology, config.topics, false);
      report(options, { drift: left }, () => {
        printDrift(left, false);
        console.log(left.length === 0 ? 'every topic matches the topology' : `${left.length} difference(s) from the topology`);
      });
      if (left.length > 0) process.exitCode = 1;
    });

  const schemas = program.command('schemas').description('Avro schemas of a topology in the schema registry.');
  /**
   * Every subject checked against its latest version, printed (or, with --json, one document with
   * `extra`); throws, naming each one that breaks the level.
   */
  const checkSubjects = async (config: Config, subjects: TopologySubject[], o: { json?: boolean }, then?: () => Promise<Record<string, unknown>>) => {
    const level = config.schemaCompatibility;
    const checks: SubjectCheck[] = [];
    for (const s of subjects) checks.push(await checkCompatibility(config, s.subject, s.schema, level));
    const broken = checks.filter((c) => c.outcome === 'incompatible');
    const extra = broken.length === 0 && then ? await then() : {};
    report(o, { level, subjects: checks, ...extra }, () => {
      for (const c of checks) console.log(`${c.subject}: ${c.outcome === 'new' ? 'new subject' : c.outcome}${c.reason ? ` (${c.reason})` : ''}`);
      if (extra.registered) console.log(`registered at ${level} compatibility`);
    });
    if (broken.length > 0)
      throw new IncompatibleSchemaError(`${broken.map((c) => `${c.subject} is not ${level}-compatible with its latest version: ${c.reason}`).join('; ')}.`);
  };

  withJson(withTopology(schemas.command('register')))
    .description(
      "Check, then register, each entity under its ingest and raw subjects and the dead-letter and near-duplicate schemas, setting each subject's compatibility level (C360_SCHEMA_COMPATIBILITY); a schema that breaks it is refused with the reason.",
    )
    .action(async (options: TopologyOptions & { json: boolean }) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology, options);
      const entities = topology.sources.flatMap(compileEntities);
      const subjects = topologySubjects(topology, entities);
      await checkSubjects(config, subjects, options, async () => {
        for (const s of subjects) await setCompatibility(config, s.subject, config.schemaCompatibility);
        await registerTopologySchemas(createSchemaRegistry(config), topology, entities, config.schemaCompatibility);
        return { registered: true };
      });
    });

  withJson(withTopology(schemas.command('check')))
    .description(
      "Check each schema of the topology against its subject's latest registered version at C360_SCHEMA_COMPATIBILITY, without registering anything (for a CI pipeline): exit 1, with the reason, if one breaks it.",
    )
    .action(async (options: TopologyOptions & { json: boolean }) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology, options);
      await checkSubjects(config, topologySubjects(topology, topology.sources.flatMap(compileEntities)), options);
    });

  withJson(withTopology(program.command('ledger')))
    .description(
      "Sum the ledger topic: records in, landed raw, exact duplicates dropped, dead-lettered and near-duplicates flagged, per source; and count the records in the ingest topics the topology has not processed yet (its group's lag). Exit 1 if it does not balance or records are unprocessed.",
    )
    .action(async (options: TopologyOptions & { json: boolean }) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology, options);
      const kafka = createKafka(config, createLogger('error'));
      const names = topicNames(topology.namespace);
      const known = await existingTopics(kafka);
      if (!known.has(names.ledger)) throw new ConfigError(`namespace ${topology.namespace} has no ledger topic ${names.ledger}: nothing has run under it.`);
      const entries: LedgerEntry[] = [];
      await readToEnd(kafka, names.ledger, (m) => entries.push(JSON.parse(m.value!.toString()) as LedgerEntry));
      const totals = totalsOf(entries);
      const [topologyGroup] = consumerGroups(topology);
      const behind = (
        await groupLag(
          kafka,
          topologyGroup!.group,
          topologyGroup!.topics.filter((t) => known.has(t)),
        )
      ).filter((l) => l.records > 0);
      const unprocessed = behind.reduce((n, l) => n + l.records, 0);
      const json = {
        namespace: topology.namespace,
        sources: [...totals.bySource].sort().map(([source, c]) => ({ source, ...c, balanced: balanced(c) })),
        total: { ...totals.total, balanced: balanced(totals.total) },
        unprocessed: { records: unprocessed, exact: behind.every((l) => l.exact), partitions: behind },
      };
      report(options, json, () => {
        console.log(formatLedger(totals));
        console.log(
          unprocessed === 0
            ? 'unprocessed: 0 (the topology has processed every record of its ingest topics)'
            : `unprocessed: ${behind.every((l) => l.exact) ? '' : 'about '}${unprocessed} records not yet processed (${behind.map((l) => `${l.topic}[${l.partition}] ${l.records}`).join(', ')})`,
        );
      });
      if (!balanced(totals.total) || unprocessed > 0) process.exitCode = 1;
    });
}
