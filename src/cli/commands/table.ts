import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { ConfigError } from '../../contracts/errors.js';
import { compactTable, expireSnapshots } from '../../iceberg/maintenance.js';
import { RestCatalog } from '../../iceberg/rest-catalog.js';
import { IcebergTable } from '../../iceberg/table.js';
import { mainSnapshot } from '../../iceberg/table-metadata.js';
import { createLogger } from '../../observability/logger.js';
import { loadTopology } from '../../topology/load.js';
import { integer, many, type TopologyOptions, withTopology } from '../options.js';
import { stopSignal } from '../shutdown.js';

interface MaintenanceOptions extends TopologyOptions {
  table: string[];
  targetFileMb: number;
  minFiles: number;
  retainDays: number;
  retainLast: number;
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

/** One pass over the tables: compaction, then expiry of snapshots past the retention; one line per table. */
async function maintain(o: MaintenanceOptions): Promise<void> {
  const { catalog, tables } = await tablesOf(o);
  for (const table of tables) {
    try {
      const c = await compactTable(table, { targetBytes: o.targetFileMb * 1024 * 1024, minFiles: o.minFiles });
      const expired = await expireSnapshots(catalog, table, { olderThanMs: Date.now() - o.retainDays * 86_400_000, retainLast: o.retainLast });
      console.log(`${table.name}: ${c.filesBefore} files -> ${c.filesAfter} (${c.rewritten} joined, ${c.rows} rows moved), ${expired} snapshot(s) expired`);
    } finally {
      table.close();
    }
  }
}

export function registerTableCommands(program: Command): void {
  const table = program.command('table').description('The layers as Iceberg tables (C360_CATALOG_URL): list them, compact them, expire their snapshots.');

  withTopology(table.command('ls'))
    .description("List the namespace's tables: rows, data files and snapshots of each.")
    .action(async (o: TopologyOptions) => {
      const { tables } = await tablesOf({ ...o, table: [] });
      for (const t of tables) {
        const current = mainSnapshot(t.metadata);
        console.log(
          `${t.name}: ${current?.summary['total-records'] ?? 0} rows, ${current?.summary['total-data-files'] ?? 0} data files, ${t.metadata.snapshots?.length ?? 0} snapshots, at ${t.metadata.location}`,
        );
        t.close();
      }
    });

  withTopology(table.command('maintain'))
    .description(
      "Compact each table's small files into files of about --target-file-mb (row groups copied byte for byte: rows and sealed values never change), then expire snapshots older than --retain-days, keeping the newest --retain-last. With --every, again at that interval until SIGTERM.",
    )
    .option('--table <name>', 'only this table (repeatable; default every table of the namespace)', many(), [])
    .option('--target-file-mb <n>', 'size a joined file grows to; larger files are left alone', integer(1), 128)
    .option('--min-files <n>', 'join a partition once it has this many small files', integer(2), 5)
    .option('--retain-days <n>', 'keep snapshots younger than this many days (time travel reaches back that far)', integer(0), 7)
    .option('--retain-last <n>', 'keep at least this many of the newest snapshots', integer(1), 10)
    .option('--every <seconds>', 'run again at this interval until SIGTERM (a schedule inside the pod)', integer(1))
    .action(async (o: MaintenanceOptions & { every?: number }) => {
      if (o.every === undefined) return maintain(o);
      const signal = stopSignal(createLogger(loadConfig().logLevel), 'table maintenance');
      while (!signal.aborted) {
        await maintain(o);
        await sleep(o.every * 1000, undefined, { signal }).catch(() => undefined);
      }
    });
}
