import { type Command, Option } from 'commander';
import { startConsole } from '../../console/server.js';
import { ConfigError } from '../../contracts/errors.js';
import { createKafka } from '../../kafka/client.js';
import { createLogger, toolLogger } from '../../observability/logger.js';
import { openKeyStore } from '../../privacy/key-store.js';
import { PrivacyLog } from '../../privacy/privacy-log.js';
import { SealedOpener } from '../../privacy/sealed.js';
import { describeRecord } from '../../quarantine/show.js';
import { countQuarantine, type QuarantineFilter, readQuarantine } from '../../quarantine/store.js';
import { replayQuarantine } from '../../replay/quarantine.js';
import { bySourceText } from '../../replay/send.js';
import { WriterSchemas } from '../../schema/registry.js';
import { openLayerFiles } from '../../sinks/layer-files.js';
import { loadTopology } from '../../topology/load.js';
import {
  calendarDate,
  configWithStorage,
  integer,
  many,
  port,
  recordErrorCode,
  report,
  sourcesOf,
  type TopologyOptions,
  withJson,
  withStorageToRead,
  withTopology,
} from '../options.js';
import { startStoppable } from '../shutdown.js';

interface FilterOptions {
  source: string[];
  date: string[];
  code: string[];
  event: string[];
  ingestId: string[];
  storage?: string;
}

const withFilters = (cmd: Command) =>
  withStorageToRead(cmd)
    .option('--source <source>', 'only this source (repeatable, or comma-separated)', many(), [])
    .option('--date <YYYY-MM-DD>', 'only this ingest date (repeatable)', many(calendarDate), [])
    .option('--code <code>', 'only records with this error code (repeatable)', many(recordErrorCode), [])
    .option('--event <name>', 'only records of this event: a tracking-plan event name, or an entity such as CustomerProfile (repeatable)', many(), [])
    .option('--ingest-id <id>', 'only this record (repeatable)', many(), []);

function filterOf(o: FilterOptions): QuarantineFilter {
  return { source: o.source, date: o.date, code: o.code, event: o.event, ingestId: o.ingestId };
}

export function registerQuarantineCommands(program: Command): void {
  const q = program.command('quarantine').description('Inspect and replay the records the topology rejected (quarantine/ in the raw layer).');

  withJson(withTopology(withFilters(q.command('ls'))))
    .description('Count quarantined records by source, ingest date and error code.')
    .action(async (o: FilterOptions & TopologyOptions & { json: boolean }) => {
      const files = openLayerFiles(configWithStorage(o.storage), await loadTopology(o.topology, o));
      const counts = (await countQuarantine(files, filterOf(o)).finally(() => files.close())).byCode;
      report(o, { counts }, () => {
        if (counts.length === 0) {
          console.log(`no quarantined records in ${files.store.url}`);
          return;
        }
        const width = Math.max(...counts.map((c) => c.code.length), 4);
        console.log(`${'source'.padEnd(12)} ${'date'.padEnd(10)} ${'code'.padEnd(width)} records`);
        for (const c of counts) console.log(`${c.source.padEnd(12)} ${c.date} ${c.code.padEnd(width)} ${String(c.records).padStart(7)}`);
      });
    });

  withTopology(withFilters(q.command('show')))
    .description(
      "Print quarantined records with their errors and lineage; values sealed by the topology are opened while their person's key exists, and personal data is masked unless --unmask.",
    )
    .option('--limit <n>', 'at most this many records', integer(1), 20)
    .option('--unmask', 'show personal data as it is: needs C360_ALLOW_UNMASK=true, and is recorded in the access log (c360 privacy access-log)', false)
    .action(async (o: FilterOptions & TopologyOptions & { limit: number; unmask: boolean }) => {
      const config = configWithStorage(o.storage);
      const topology = await loadTopology(o.topology, o);
      sourcesOf(topology, o.source);
      if (o.unmask && !config.allowUnmask)
        throw new ConfigError('quarantine show --unmask reveals personal data: it needs C360_ALLOW_UNMASK=true, set only for those allowed to see it.');
      const files = openLayerFiles(config, topology);
      const keyStore = openKeyStore(config, topology.namespace);
      const schemas = new WriterSchemas(config);
      let shown = 0;
      try {
        // Recorded before anything is revealed: a reveal the log cannot hold does not happen.
        if (o.unmask)
          await new PrivacyLog(files.store, topology.namespace).access({ action: 'quarantine show --unmask', what: { ...filterOf(o), limit: o.limit } });
        for await (const r of readQuarantine(files, filterOf(o), new SealedOpener(keyStore))) {
          if (shown >= o.limit) break;
          console.log(JSON.stringify(await describeRecord(r, schemas, o.unmask), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
          shown++;
        }
      } finally {
        files.close();
        await keyStore.close();
      }
      if (shown === 0) console.error('no quarantined record matches');
    });

  withJson(withTopology(withFilters(q.command('replay'))))
    .description(
      'Send selected quarantined records back to their ingest topic, after a schema or rule fix; records that already landed are dropped as duplicates.',
    )
    .option('--all', 'replay every quarantined record (no filter)', false)
    .option('--dry-run', 'count what would be replayed', false)
    .action(async (o: FilterOptions & { topology: string; namespace?: string; all: boolean; dryRun: boolean; json: boolean }) => {
      const filter = filterOf(o);
      if (!o.all && ![filter.source, filter.date, filter.code, filter.event, filter.ingestId].some((f) => f?.length)) {
        throw new ConfigError('quarantine replay needs a --source, --date, --code, --event or --ingest-id filter, or --all.');
      }
      const config = configWithStorage(o.storage);
      const topology = await loadTopology(o.topology, o);
      sourcesOf(topology, o.source);
      const files = openLayerFiles(config, topology);
      const kafka = createKafka(config, toolLogger(config.logLevel), 'quarantine-replay');
      const keyStore = openKeyStore(config, topology.namespace);
      const result = await replayQuarantine({
        files,
        kafka,
        namespace: topology.namespace,
        filter,
        dryRun: o.dryRun,
        opener: new SealedOpener(keyStore),
      }).finally(async () => {
        files.close();
        await keyStore.close();
      });
      report(o, { dryRun: o.dryRun, ...result }, () => {
        const by = bySourceText(result.bySource);
        console.log(
          `${o.dryRun ? 'would replay' : 'replayed'} ${result.replayed} record(s)${by ? ` (${by})` : ''}${result.skipped ? `; ${result.skipped} without a value left in quarantine` : ''}${result.forgotten ? `; ${result.forgotten} of forgotten people not replayed` : ''}`,
        );
      });
    });

  withTopology(withStorageToRead(program.command('console')))
    .description(
      "Serve the quarantine console: a web page to see what was rejected by source, day and code, open a record (masked), unmask it where C360_ALLOW_UNMASK allows (logged), and replay a filtered set with a preview and the ledger's change. Loopback only unless --host says otherwise, and then only with C360_CONSOLE_TOKEN.",
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'port to listen on (0 picks one)').argParser(port).default(8099))
    .action(async (o: TopologyOptions & { storage?: string; host: string; port: number }) => {
      const config = configWithStorage(o.storage);
      // A server: its JSON log lines go to stdout, as every worker's do.
      const logger = createLogger(config.logLevel);
      const topology = await loadTopology(o.topology, o);
      const files = openLayerFiles(config, topology);
      const keyStore = openKeyStore(config, topology.namespace);
      const kafka = createKafka(config, logger, 'console');
      const served = await startStoppable(
        logger,
        'quarantine console',
        () => startConsole({ config, topology, files, keyStore, kafka, host: o.host, port: o.port, token: config.consoleToken }),
        async () => {
          await served?.close();
          files.close();
          await keyStore.close();
        },
      ).catch(async (err: unknown) => {
        files.close();
        await keyStore.close();
        throw err;
      });
      logger.info({ url: served.url }, 'quarantine console listening');
    });
}
