/**
 * The data files of a layer, wherever the sink put them: the Parquet folders under
 * C360_STORAGE_URL, or, with C360_CATALOG_URL, the files of a table's snapshot (the current one, a
 * snapshot by id, or the one current at a time: time travel). Readers of the raw layer, the
 * quarantine and the near-duplicates go through it, so each reads tables as it reads folders.
 */

import type { Config } from '../config.js';
import { ConfigError } from '../contracts/errors.js';
import type { Long } from '../contracts/long-json.js';
import type { Topology } from '../contracts/topology-definition.js';
import { RestCatalog } from '../iceberg/rest-catalog.js';
import { IcebergTable } from '../iceberg/table.js';
import { mainSnapshot, type Snapshot, type TableMetadata } from '../iceberg/table-metadata.js';
import { openObjectStore } from '../storage/backends.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { LayerKind } from './layout.js';
import { tableName } from './table-layer.js';

interface LayerFile {
  source: string;
  /** Raw files only: the entity their rows hold. */
  entity?: string;
  /** The ingest day, YYYY-MM-DD. */
  date: string;
  /** Where the file is, for messages and for what a row says it came from. */
  where: string;
  read(): Promise<Buffer>;
}

interface LayerFilter {
  source?: string[];
  date?: string[];
}

/** Which snapshot of each table to read: the current one unless an id or an instant is given. */
export interface TableAt {
  snapshotId?: Long;
  asOfMs?: number;
}

export interface LayerFiles {
  /** C360_STORAGE_URL's store: where out-of-line originals and the access log are, in either layout. */
  store: ObjectStore;
  files(kind: LayerKind, filter?: LayerFilter): AsyncGenerator<LayerFile>;
  close(): void;
}

const FOLDERS: Record<LayerKind, RegExp> = {
  raw: /^raw\/source=([^/]+)\/entity=([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/[^/]+\.parquet$/,
  quarantine: /^quarantine\/source=([^/]+)\/()date=(\d{4}-\d{2}-\d{2})\/[^/]+\.parquet$/,
  'near-duplicates': /^near-duplicates\/()()date=(\d{4}-\d{2}-\d{2})\/[^/]+\.parquet$/,
};

/** The Parquet folders under a store. */
export function folderFiles(store: ObjectStore): LayerFiles {
  return {
    store,
    async *files(kind, filter = {}) {
      const prefixes = kind !== 'near-duplicates' && filter.source?.length ? filter.source.map((s) => `${kind}/source=${s}/`) : [`${kind}/`];
      for (const prefix of prefixes) {
        for (const key of await store.list(prefix)) {
          const m = FOLDERS[kind].exec(key);
          if (!m) continue;
          const [, source, entity, date] = m as unknown as [string, string, string, string];
          if (filter.date?.length && !filter.date.includes(date)) continue;
          yield { source, ...(entity ? { entity } : {}), date, where: store.locate(key), read: () => store.read(key) };
        }
      }
    },
    close: () => store.close(),
  };
}

/** The snapshot to read: by id (it must exist), the one current at an instant, or main's. */
function snapshotAt(metadata: TableMetadata, at: TableAt): Snapshot | undefined {
  const snapshots = metadata.snapshots ?? [];
  if (at.snapshotId !== undefined) {
    const s = snapshots.find((x) => x['snapshot-id'] === at.snapshotId);
    if (!s) throw new ConfigError(`snapshot ${at.snapshotId} is not in the table's history (expired, or of another table).`);
    return s;
  }
  if (at.asOfMs !== undefined) {
    const entry = (metadata['snapshot-log'] ?? []).filter((e) => e['timestamp-ms'] <= at.asOfMs!).pop();
    return entry ? snapshots.find((x) => x['snapshot-id'] === entry['snapshot-id']) : undefined;
  }
  return mainSnapshot(metadata);
}

function tableFiles(config: Config, topology: Topology, catalog: RestCatalog, at: TableAt): LayerFiles {
  const store = openObjectStore(config);
  const tables = (kind: LayerKind, sources: string[] | undefined): Array<{ name: string; source?: string; entity?: string }> => {
    if (kind !== 'raw') return [{ name: tableName(topology, kind, undefined, undefined) }];
    return topology.sources
      .filter((s) => !sources?.length || sources.includes(s.name))
      .flatMap((s) =>
        [s.entity, ...s.entities.map((e) => e.entity)].map((entity) => ({ name: tableName(topology, kind, s.name, entity), source: s.name, entity })),
      );
  };
  return {
    store,
    async *files(kind, filter = {}) {
      for (const t of tables(kind, filter.source)) {
        const table = await IcebergTable.load(catalog, config, topology.namespace, t.name);
        if (!table) continue;
        try {
          for (const live of await table.liveFiles(snapshotAt(table.metadata, at))) {
            const [day, partitionSource] = live.file.partition as [number, string | null];
            const source = t.source ?? partitionSource ?? 'unknown';
            const date = new Date(day * 86_400_000).toISOString().slice(0, 10);
            if (filter.date?.length && !filter.date.includes(date)) continue;
            if (kind === 'quarantine' && filter.source?.length && !filter.source.includes(source)) continue;
            yield { source, ...(t.entity ? { entity: t.entity } : {}), date, where: live.file.path, read: () => table.readFile(live.file.path) };
          }
        } finally {
          table.close();
        }
      }
    },
    close: () => store.close(),
  };
}

/** The layer's files as this configuration's sink writes them; `at` is for tables only. */
export function openLayerFiles(config: Config, topology: Topology, at: TableAt = {}): LayerFiles {
  if (!config.catalog) {
    if (at.snapshotId !== undefined || at.asOfMs !== undefined) throw new ConfigError('--snapshot and --as-of read Iceberg tables: set C360_CATALOG_URL.');
    return folderFiles(openObjectStore(config));
  }
  return tableFiles(config, topology, new RestCatalog(config.catalog), at);
}
