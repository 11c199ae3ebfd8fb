import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { ConfigError, describeError, isDependencyFailure, isRetriable } from '../../contracts/errors.js';
import { compactTable, expireSnapshots, removeOrphanFiles } from '../../iceberg/maintenance.js';
import { RestCatalog } from '../../iceberg/rest-catalog.js';
import { IcebergTable } from '../../iceberg/table.js';
import { mainSnapshot } from '../../iceberg/table-metadata.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { retry } from '../../retry.js';
import { loadTopology } from '../../topology/load.js';
import { integer, many, report, type TopologyOptions, withJson, withJsonLines, withTopology } from '../options.js';
import { everyUntilStopped, stopSignal } from '../shutdown.js';

interface MaintenanceOptions extends TopologyOptions {
  table: string[];
  targetFileMb: number;
  minFiles: number;
  retainDays: number;
  retainLast: number;
  orphansOlderThanDays: number;
  json: boolean;
}

/** The catalog and the namespace's tables (all, or those asked for). */
async function tablesOf(o: TopologyOptions & { table: string[] }) {
  const config = loadConfig();
  if (!config.catalog) throw new ConfigError('C360_CATALOG_URL is not set: tables live in an Iceberg REST catalog, which this command needs.');
  const topology = await loadTopology(o.topology, o);
  const catalog = new RestCatalog(config.catalog);
  const names = o.table.length ? o.table : await catalog.listTables(topology.namespace);
  const tables: IcebergTable[] = [];
  for (const name of names) {
    const table = await IcebergTable.load(catalog, config, topology.namespace, name);
    if (!table) throw new ConfigError(`table ${topology.namespace}.${name} is not in the catalog at ${config.catalog.url}.`);
    tables.push(table);
  }
  return { catalog, tables };
}

/** A catalog or store that fails mid-pass is asked again for about half a minute before the pass gives up. */
const PASS_RETRY = { retries: 5, initialMs: 1_000, maxMs: 15_000 };

/**
 * One pass over the tables: compaction, then expiry of snapshots past the retention; one line per
 * table (a JSON line with --json). A step that meets an outage starts again from the table's current snapshot: a replace or an
 * expiry either committed whole or not at all, so planning again never joins a file twice.
 */
async function maintain(o: MaintenanceOptions, logger: Logger, signal?: AbortSignal): Promise<void> {
  const { catalog, tables } = await tablesOf(o);
  for (const table of tables) {
    try {
      const onRetry = (err: unknown, attempt: number, delayMs: number) =>
        logger.warn({ table: table.name, attempt, delayMs, error: describeError(err) }, 'table maintenance waits for its dependencies');
      const c = await retry(() => compactTable(table, { targetBytes: o.targetFileMb * 1024 * 1024, minFiles: o.minFiles }), { ...PASS_RETRY, signal, onRetry });
      const expired = await retry(() => expireSnapshots(catalog, table, { olderThanMs: Date.now() - o.retainDays * 86_400_000, retainLast: o.retainLast }), {
        ...PASS_RETRY,
        signal,
        onRetry,
      });
      const orphans = await retry(() => removeOrphanFiles(table, { olderThanMs: Date.now() - o.orphansOlderThanDays * 86_400_000 }), {
        ...PASS_RETRY,
        signal,
        onRetry,
      });
      report(o, { ...c, snapshotsExpired: expired, orphansRemoved: orphans }, () =>
        console.log(
          `${table.name}: ${c.filesBefore} files -> ${c.filesAfter} (${c.rewritten} joined, ${c.rows} rows moved), ${expired} snapshot(s) expired, ${orphans} orphan file(s) removed`,
        ),
      );
    } finally {
      table.close();
    }
  }
}

export function registerTableCommands(program: Command): void {
  const table = program
    .command('table')
    .description('The layers as Iceberg tables (C360_CATALOG_URL): list them, compact them, expire their snapshots, remove their orphan files.');

  withJson(withTopology(table.command('ls')))
    .description("List the namespace's tables: rows, data files and snapshots of each.")
    .action(async (o: TopologyOptions & { json: boolean }) => {
      const { tables } = await tablesOf({ ...o, table: [] });
      const listed = tables.map((t) => {
        const current = mainSnapshot(t.metadata);
        t.close();
        return {
          table: t.name,
          rows: Number(current?.summary['total-records'] ?? 0),
          dataFiles: Number(current?.summary['total-data-files'] ?? 0),
          snapshots: t.metadata.snapshots?.length ?? 0,
          location: t.metadata.location,
        };
      });
      report(o, { tables: listed }, () => {
        for (const t of listed) console.log(`${t.table}: ${t.rows} rows, ${t.dataFiles} data files, ${t.snapshots} snapshots, at ${t.location}`);
      });
    });

  withJsonLines(withTopology(table.command('maintain')))
    .description(
      "Compact each table's small files into files of about --target-file-mb (row groups copied byte for byte: rows and sealed values never change), then expire snapshots older than --retain-days, keeping the newest --retain-last, then delete the files no snapshot names once older than --orphans-older-than-days. With --every, again at that interval until SIGTERM.",
    )
    .option('--table <name>', 'only this table (repeatable; default every table of the namespace)', many(), [])
    .option('--target-file-mb <n>', 'size a joined file grows to; larger files are left alone', integer(1), 128)
    .option('--min-files <n>', 'join a partition once it has this many small files', integer(2), 5)
    .option('--retain-days <n>', 'keep snapshots younger than this many days (time travel reaches back that far)', integer(0), 7)
    .option('--retain-last <n>', 'keep at least this many of the newest snapshots', integer(1), 10)
    .option(
      '--orphans-older-than-days <n>',
      'delete files no snapshot names once they are this old (a sink that crashed before its commit must be back within it; 0 deletes them at once)',
      integer(0),
      3,
    )
    .option('--every <seconds>', 'run again at this interval until SIGTERM (a schedule inside the pod)', integer(1))
    .action(async (o: MaintenanceOptions & { every?: number }) => {
      const logger = createLogger(loadConfig().logLevel);
      if (o.every === undefined) return maintain(o, logger);
      const signal = stopSignal(logger, 'table maintenance');
      // On a schedule, an outage that outlasts a pass skips that pass; anything else ends the command.
      await everyUntilStopped(signal, o.every * 1000, () =>
        maintain(o, logger, signal).catch((err: unknown) => {
          if (!isDependencyFailure(err) || !isRetriable(err)) throw err;
          logger.error({ error: describeError(err) }, 'table maintenance skipped a pass; the next one starts on schedule');
        }),
      );
    });
}
