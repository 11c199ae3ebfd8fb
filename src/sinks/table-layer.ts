/**
 * The table layer: each layer and source as an Iceberg table in a REST catalog, in the namespace
 * named after the c360 namespace. Raw records go to `raw_<source>` (a further entity of a source to
 * `raw_<source>_<entity>`), dead letters to `quarantine`, near-duplicate flags to
 * `near_duplicates`. Tables are partitioned by the day of `_received_at` and by the source column
 * (hidden partitions: no column is added for them).
 *
 * A closed file is uploaded under the table's location with a unique name, then appended by a
 * snapshot whose summary moves its partition's offset (iceberg/table.ts): the table, not the
 * folder listing, says which records are in. A file uploaded and never committed (a crash between
 * the two) is an orphan no snapshot names; its records are read again and land in another file.
 */
import type { Config } from '../config.js';
import { DependencyUnavailableError } from '../contracts/errors.js';
import type { Topology } from '../contracts/topology-definition.js';
import { crashPoint } from '../faults/failpoints.js';
import type { DataFileEntry } from '../iceberg/manifests.js';
import type { RestCatalog } from '../iceberg/rest-catalog.js';
import { IcebergTable, type TableLayout, tableOffsets } from '../iceberg/table.js';
import type { LayerKind } from './layout.js';
import { LINEAGE_FIELDS } from './lineage-columns.js';
import { type FileSchema, fileSchema } from './parquet/parquet-file.js';
import type { Placement, SinkRecord } from './records.js';
import type { PublishedGroup, PublishOutcome, SinkLayer } from './sink-layer.js';

const NULL_SOURCE = '\u0000';

/** An identifier a catalog and every engine take unquoted: lower case, digits and underscores. */
const identifier = (s: string) =>
  s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');

/** The table of a layer, source and entity; the source's own entity keeps the short name. */
export function tableName(topology: Topology, kind: LayerKind, source: string | undefined, entity: string | undefined): string {
  if (kind === 'quarantine') return 'quarantine';
  if (kind === 'near-duplicates') return 'near_duplicates';
  const main = topology.sources.find((s) => s.name === source)?.entity;
  return entity && entity !== main ? `raw_${identifier(source ?? 'unknown')}_${identifier(entity)}` : `raw_${identifier(source ?? 'unknown')}`;
}

/** Dead letters name their source in their own `source` field; raw and near-duplicate rows in the lineage's `_source`. */
const layoutOf = (kind: LayerKind): TableLayout => ({ dayColumn: '_received_at', sourceColumn: kind === 'quarantine' ? 'source' : '_source' });

export class TableLayer implements SinkLayer {
  private readonly tables = new Map<string, Promise<IcebergTable | undefined>>();
  private readonly fileSchemas = new Map<string, Promise<FileSchema>>();
  /** Files uploaded whose commit has not succeeded yet, by spool path: a retry commits without uploading again. */
  private readonly uploaded = new Map<string, string>();

  constructor(
    private readonly catalog: RestCatalog,
    private readonly config: Config,
    private readonly topology: Topology,
  ) {}

  readonly place: Placement = ({ kind, source, entity, value, lineage }) => {
    const table = tableName(this.topology, kind, source, entity);
    const column = layoutOf(kind).sourceColumn;
    const partitionSource = (column === 'source' ? value.source : lineage._source) as string | null | undefined;
    const day = Math.floor(Number(lineage._received_at) / 86_400_000);
    return { folder: `${table}/${day}/${partitionSource ?? NULL_SOURCE}`, target: table };
  };

  async storedThrough(target: string, topic: string, partition: number): Promise<number> {
    const table = await this.existing(target);
    if (!table) return -1;
    const metadata = await table.refresh();
    return (tableOffsets(metadata, topic).get(partition) ?? 0) - 1;
  }

  fileSchema(record: SinkRecord): Promise<FileSchema> {
    const key = `${record.target}\u0000${record.schemaId}`;
    let schema = this.fileSchemas.get(key);
    if (!schema) {
      schema = this.fit(record);
      // A failure (the catalog down) is not kept: the next record asks again.
      schema.catch(() => this.fileSchemas.delete(key));
      this.fileSchemas.set(key, schema);
    }
    return schema;
  }

  private async fit(record: SinkRecord): Promise<FileSchema> {
    const table = await this.open(record);
    const fit = await table.fit(record.schema, LINEAGE_FIELDS);
    return fileSchema(record.schema, LINEAGE_FIELDS, { ids: fit.ids });
  }

  readonly closesTogether = true;

  async publish(group: PublishedGroup): Promise<PublishOutcome> {
    const table = await this.existing(group.target);
    if (!table) throw new DependencyUnavailableError('catalog', `table ${group.target} is gone from the catalog`);
    const entries: DataFileEntry[] = [];
    for (const f of group.files) {
      // The folder is `<table>/<day>/<source>` (place above); a source may hold a slash.
      const [, day, ...rest] = f.folder.split('/');
      const source = rest.join('/');
      const partition: [number, string | null] = [Number(day), source === NULL_SOURCE ? null : source];
      let path = this.uploaded.get(f.spoolPath);
      if (path === undefined) {
        path = await table.upload(f.spoolPath, table.dataKey(partition, `${group.topic}+${group.partition}+${f.first}+${f.last}`));
        this.uploaded.set(f.spoolPath, path);
      }
      entries.push({ path, partition, recordCount: f.closed.rows, fileSizeBytes: f.closed.bytes });
    }
    crashPoint('sink-before-table-commit');
    const first = Math.min(...group.files.map((f) => f.first));
    const outcome = await table.append(entries, group.topic, group.partition, first, group.through);
    for (const f of group.files) this.uploaded.delete(f.spoolPath);
    crashPoint('sink-after-publish');
    return outcome;
  }

  /** The table if the catalog has it (loaded once). */
  private existing(name: string): Promise<IcebergTable | undefined> {
    let table = this.tables.get(name);
    if (!table) {
      table = IcebergTable.load(this.catalog, this.config, this.topology.namespace, name);
      this.remember(name, table);
    }
    return table;
  }

  /** The record's table, created from its contract when the catalog has none. */
  private async open(record: SinkRecord): Promise<IcebergTable> {
    const found = await this.existing(record.target);
    if (found) return found;
    const created = IcebergTable.open(this.catalog, this.config, this.topology.namespace, record.target, record.schema, LINEAGE_FIELDS, layoutOf(record.kind));
    this.remember(record.target, created);
    return created;
  }

  private remember(name: string, table: Promise<IcebergTable | undefined>): void {
    this.tables.set(name, table);
    // Undefined (no such table yet) and failures are asked again next time.
    table.then(
      (t) => {
        if (!t) this.tables.delete(name);
      },
      () => this.tables.delete(name),
    );
  }

  close(): void {
    for (const t of this.tables.values())
      void t.then(
        (table) => table?.close(),
        () => undefined,
      );
  }
}
