/**
 * One Iceberg table as c360 writes it: loaded from the catalog, created with its partition spec
 * when missing, evolved when a contract gains columns, and appended to by snapshots that carry the
 * Kafka offsets they bring the table up to.
 *
 * Offsets live in the snapshot summary as `c360.offsets.<topic>` = `{"<partition>": <next offset>}`,
 * for every partition that ever wrote to the table: each commit copies its parent's maps and moves
 * its own partition's entry, under a requirement that `main` still points at that parent. A commit
 * is therefore exact: the table holds a partition's records below the offset its newest summary
 * names, and no others. A snapshot written by another engine (a compaction) may lack the keys; the
 * offsets are then read from the newest ancestor that has them, since such a snapshot adds no rows.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { DependencyUnavailableError } from '../contracts/errors.js';
import { openObjectStore } from '../storage/backends.js';
import type { ObjectStore } from '../storage/object-store.js';
import { readAvroFile, writeAvroFile } from './avro-file.js';
import { addedManifest, asManifestFileEntry, type DataFileEntry, MANIFEST_LIST_SCHEMA, type ManifestFileEntry, manifestListMetadata } from './manifests.js';
import { CommitConflictError, type LoadedTable, type RestCatalog } from './rest-catalog.js';
import { fitSchema, type SchemaFit } from './schema.js';
import {
  ancestors,
  currentSchema,
  defaultSpec,
  mainSnapshot,
  type PartitionField,
  type Snapshot,
  type TableMetadata,
  type TableSchema,
} from './table-metadata.js';

const OFFSETS_KEY_PREFIX = 'c360.offsets.';

/** Commits that meet a moved table reload and try again; a catalog that keeps moving is an outage. */
const MAX_CONFLICTS = 20;

/** The partitions of a table: by day of an instant column and by the value of a source column. */
export interface TableLayout {
  dayColumn: string;
  sourceColumn: string;
}

export type AppendOutcome = 'created' | 'exists' | 'superseded';

/** The offsets a table holds for one topic, by partition, as its newest summary that names the topic says. */
export function tableOffsets(metadata: TableMetadata, topic: string): Map<number, number> {
  const key = OFFSETS_KEY_PREFIX + topic;
  for (const s of ancestors(metadata, mainSnapshot(metadata))) {
    const json = s.summary[key];
    if (json !== undefined) return new Map(Object.entries(JSON.parse(json) as Record<string, number>).map(([p, o]) => [Number(p), o]));
  }
  return new Map();
}

/** Every `c360.offsets.*` key of the newest summaries, for a new snapshot to carry over. */
function carriedOffsets(metadata: TableMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of ancestors(metadata, mainSnapshot(metadata))) {
    for (const [k, v] of Object.entries(s.summary)) if (k.startsWith(OFFSETS_KEY_PREFIX) && !(k in out)) out[k] = v;
  }
  return out;
}

/** A snapshot id: positive and below 2^52, so JSON and Avro (avsc refuses 2^53 - 1) carry it exactly. */
function newSnapshotId(): number {
  return Number(randomBytes(8).readBigUInt64BE() >> 12n) || 1;
}

export class IcebergTable {
  private loaded: LoadedTable;
  private readonly store: ObjectStore;

  private constructor(
    private readonly catalog: RestCatalog,
    readonly namespace: string,
    readonly name: string,
    loaded: LoadedTable,
    config: Config,
  ) {
    this.loaded = loaded;
    this.store = openObjectStore({ ...config, storageUrl: storageUrlOf(loaded.metadata.location) });
  }

  /** The table, or undefined when the catalog has none of that name. */
  static async load(catalog: RestCatalog, config: Config, namespace: string, name: string): Promise<IcebergTable | undefined> {
    const loaded = await catalog.loadTable(namespace, name);
    return loaded ? new IcebergTable(catalog, namespace, name, loaded, config) : undefined;
  }

  /** Loads the table, or creates it from the contract with day and source partitions. */
  static async open(
    catalog: RestCatalog,
    config: Config,
    namespace: string,
    name: string,
    contract: Record<string, unknown>,
    extra: ReadonlyArray<Record<string, unknown>>,
    layout: TableLayout,
  ): Promise<IcebergTable> {
    let loaded = await catalog.loadTable(namespace, name);
    if (!loaded) {
      await catalog.ensureNamespace(namespace);
      const fit = fitSchema(contract, extra, undefined, 0);
      const schema: TableSchema = { ...fit.schema, 'schema-id': 0 };
      const idOf = (column: string) => {
        const id = fit.ids.get(column);
        if (id === undefined) throw new Error(`table ${namespace}.${name} has no column ${column} to partition by`);
        return id;
      };
      const fields: PartitionField[] = [
        { 'source-id': idOf(layout.dayColumn), 'field-id': 1000, name: `${layout.dayColumn}_day`, transform: 'day' },
        { 'source-id': idOf(layout.sourceColumn), 'field-id': 1001, name: layout.sourceColumn, transform: 'identity' },
      ];
      loaded = await catalog.createTable(namespace, name, {
        schema,
        'partition-spec': { 'spec-id': 0, fields },
        'write-order': { 'order-id': 0, fields: [] },
        'stage-create': false,
        properties: { 'format-version': '2', 'write.format.default': 'parquet', 'c360.layout': 'day-and-source' },
      });
    }
    return new IcebergTable(catalog, namespace, name, loaded, config);
  }

  get metadata(): TableMetadata {
    return this.loaded.metadata;
  }

  async refresh(): Promise<TableMetadata> {
    const loaded = await this.catalog.loadTable(this.namespace, this.name);
    if (!loaded) throw new DependencyUnavailableError('catalog', `table ${this.namespace}.${this.name} is gone from the catalog`);
    this.loaded = loaded;
    return loaded.metadata;
  }

  /**
   * The table's ids for a contract, evolving the table first when the contract brings columns it
   * lacks. Concurrent evolutions meet a requirement on the schema id and fit again.
   */
  async fit(contract: Record<string, unknown>, extra: ReadonlyArray<Record<string, unknown>>): Promise<SchemaFit> {
    for (let attempt = 0; ; attempt++) {
      const metadata = this.loaded.metadata;
      const current = currentSchema(metadata);
      const fit = fitSchema(contract, extra, current, metadata['last-column-id']);
      if (!fit.evolves) return fit;
      const schemaId = Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1;
      try {
        this.loaded = await this.catalog.commit(
          this.namespace,
          this.name,
          [
            { type: 'assert-current-schema-id', 'current-schema-id': current['schema-id'] },
            { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': metadata['last-column-id'] },
          ],
          [
            { action: 'add-schema', schema: { ...fit.schema, 'schema-id': schemaId }, 'last-column-id': fit.lastColumnId },
            { action: 'set-current-schema', 'schema-id': -1 },
          ],
        );
      } catch (err) {
        if (!(err instanceof CommitConflictError) || attempt >= MAX_CONFLICTS) throw conflictOutage(this, err);
        await this.refresh();
      }
    }
  }

  /** Partition values of a row, in the spec's order: the day (days since 1970-01-01) and the source. */
  partitionOf(dayMs: number, source: string | null): [number, string | null] {
    return [Math.floor(dayMs / 86_400_000), source];
  }

  /** A data file's key under the table's location, by its partition and a unique name. */
  dataKey(partition: [number, string | null], stem: string): string {
    const spec = defaultSpec(this.loaded.metadata);
    const day = new Date(partition[0] * 86_400_000).toISOString().slice(0, 10);
    const source = partition[1] === null ? 'null' : encodeURIComponent(partition[1]);
    return `data/${spec.fields[0]!.name}=${day}/${spec.fields[1]!.name}=${source}/${stem}-${randomUUID()}.parquet`;
  }

  /** Uploads a finished local file under the table's location; returns its full path, as manifests name it. */
  async upload(localPath: string, key: string): Promise<string> {
    await this.store.publishFile(localPath, key);
    return `${this.loaded.metadata.location}/${key}`;
  }

  /**
   * Appends data files that hold the records of `topic[partition]` from `first` to `last`: one
   * snapshot, its summary moving the partition's offset to `last + 1`. `exists`: the table already
   * holds them (an earlier attempt whose answer was lost, or another worker). `superseded`: the
   * table holds some of them and not others, so another worker cut them differently; nothing is
   * committed and the caller reads the partition again from what the table holds.
   */
  async append(files: DataFileEntry[], topic: string, partition: number, first: number, last: number): Promise<AppendOutcome> {
    let manifest: ManifestFileEntry | undefined;
    for (let attempt = 0; ; attempt++) {
      const metadata = this.loaded.metadata;
      const held = tableOffsets(metadata, topic).get(partition) ?? 0;
      if (held > last) return 'exists';
      if (held > first) return 'superseded';
      manifest ??= await this.writeManifest(files);
      const parent = mainSnapshot(metadata);
      const snapshotId = newSnapshotId();
      const sequence = metadata['last-sequence-number'] + 1;
      const listKey = `metadata/snap-${snapshotId}-1-${randomUUID()}.avro`;
      const entries = [
        { ...manifest, sequence_number: sequence, min_sequence_number: sequence, added_snapshot_id: snapshotId },
        ...(await this.manifestsOf(parent)),
      ];
      await this.store.putIfAbsent(listKey, writeAvroFile(MANIFEST_LIST_SCHEMA, entries, manifestListMetadata(snapshotId, parent?.['snapshot-id'], sequence)));
      const offsets = {
        ...carriedOffsets(metadata),
        [OFFSETS_KEY_PREFIX + topic]: JSON.stringify(
          Object.fromEntries([...tableOffsets(metadata, topic).set(partition, last + 1)].sort((a, b) => a[0] - b[0])),
        ),
      };
      const snapshot: Snapshot = {
        'snapshot-id': snapshotId,
        ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
        'sequence-number': sequence,
        'timestamp-ms': Date.now(),
        'manifest-list': `${metadata.location}/${listKey}`,
        summary: { operation: 'append', ...appendSummary(files, parent), ...offsets },
        'schema-id': metadata['current-schema-id'],
      };
      try {
        this.loaded = await this.catalog.commit(
          this.namespace,
          this.name,
          [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parent?.['snapshot-id'] ?? null }],
          [
            { action: 'add-snapshot', snapshot },
            { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshotId },
          ],
        );
        return 'created';
      } catch (err) {
        // A conflict, or an answer lost: the table as it is now says whether this commit landed.
        if (!(err instanceof CommitConflictError) && !(err instanceof DependencyUnavailableError)) throw err;
        if (attempt >= MAX_CONFLICTS) throw conflictOutage(this, err);
        await this.refresh();
      }
    }
  }

  private async writeManifest(files: DataFileEntry[]): Promise<ManifestFileEntry> {
    const metadata = this.loaded.metadata;
    const spec = defaultSpec(metadata);
    const m = addedManifest(spec, currentSchema(metadata), files);
    const key = `metadata/${randomUUID()}-m0.avro`;
    const body = writeAvroFile(m.schema, m.records, m.metadata);
    await this.store.putIfAbsent(key, body);
    return {
      manifest_path: `${metadata.location}/${key}`,
      manifest_length: body.length,
      partition_spec_id: spec['spec-id'],
      content: 0,
      sequence_number: 0,
      min_sequence_number: 0,
      added_snapshot_id: 0,
      added_files_count: files.length,
      existing_files_count: 0,
      deleted_files_count: 0,
      added_rows_count: files.reduce((n, f) => n + f.recordCount, 0),
      existing_rows_count: 0,
      deleted_rows_count: 0,
    };
  }

  /** The manifests of a snapshot, as its manifest list names them. */
  async manifestsOf(snapshot: Snapshot | undefined): Promise<ManifestFileEntry[]> {
    if (!snapshot) return [];
    const list = await this.readFile(snapshot['manifest-list']);
    return readAvroFile(list, snapshot['manifest-list']).records.map(asManifestFileEntry);
  }

  /** A file of the table by its full path. */
  async readFile(fullPath: string): Promise<Buffer> {
    return this.store.read(keyOf(this.loaded.metadata.location, fullPath));
  }

  close(): void {
    this.store.close();
  }
}

function appendSummary(files: DataFileEntry[], parent: Snapshot | undefined): Record<string, string> {
  const records = files.reduce((n, f) => n + f.recordCount, 0);
  const bytes = files.reduce((n, f) => n + f.fileSizeBytes, 0);
  const total = (key: string, added: number) => String(Number(parent?.summary[key] ?? 0) + added);
  return {
    'added-data-files': String(files.length),
    'added-records': String(records),
    'added-files-size': String(bytes),
    'total-data-files': total('total-data-files', files.length),
    'total-records': total('total-records', records),
    'total-files-size': total('total-files-size', bytes),
    'total-delete-files': '0',
    'total-position-deletes': '0',
    'total-equality-deletes': '0',
  };
}

function conflictOutage(table: IcebergTable, err: unknown): Error {
  if (!(err instanceof CommitConflictError)) return err as Error;
  return new DependencyUnavailableError('catalog', `${table.namespace}.${table.name} kept changing under ${MAX_CONFLICTS} commits in a row`, { cause: err });
}

/** A table location as C360's storage URL: `file:/x` is the folder /x, s3:// stays. */
function storageUrlOf(location: string): string {
  return location.startsWith('file:') ? location.replace(/^file:(\/\/)?/, '') : location;
}

function keyOf(location: string, fullPath: string): string {
  if (!fullPath.startsWith(`${location}/`)) throw new DependencyUnavailableError('catalog', `${fullPath} is outside the table location ${location}`);
  return fullPath.slice(location.length + 1);
}
