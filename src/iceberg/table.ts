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
import { DependencyUnavailableError, UnreadableFileError } from '../contracts/errors.js';
import type { Long } from '../contracts/long-json.js';
import { openObjectStore } from '../storage/backends.js';
import type { ObjectStore, StoredObject } from '../storage/object-store.js';
import { readAvroFile, writeAvroFile } from './avro-file.js';
import {
  addedEntries,
  asManifestFileEntry,
  type DataFileEntry,
  MANIFEST_LIST_SCHEMA,
  type ManifestEntryToWrite,
  type ManifestFileEntry,
  manifestFile,
  manifestListMetadata,
  STATUS,
} from './manifests.js';
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

/** A data file a snapshot holds, with the snapshot that added it and its sequence numbers. */
export interface LiveFile {
  file: DataFileEntry;
  snapshotId: Long;
  sequenceNumber: number | null;
  fileSequenceNumber: number | null;
}

/** The offsets a table holds for one topic, by partition, as its newest summary that names the topic says. */
export function tableOffsets(metadata: TableMetadata, topic: string): Map<number, number> {
  const json = carriedOffsets(metadata)[OFFSETS_KEY_PREFIX + topic];
  return new Map(json === undefined ? [] : Object.entries(JSON.parse(json) as Record<string, number>).map(([p, o]) => [Number(p), o]));
}

/**
 * The `c360.offsets.*` keys of the newest summary that has any, for a new snapshot to carry over.
 * Every commit of c360 carries all of them, so that summary has every topic's; the walk goes past
 * only the snapshots another engine wrote without them.
 */
function carriedOffsets(metadata: TableMetadata): Record<string, string> {
  for (const s of ancestors(metadata, mainSnapshot(metadata))) {
    const keys = Object.entries(s.summary).filter(([k]) => k.startsWith(OFFSETS_KEY_PREFIX));
    if (keys.length > 0) return Object.fromEntries(keys);
  }
  return {};
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
  append(files: DataFileEntry[], topic: string, partition: number, first: number, last: number): Promise<AppendOutcome> {
    return this.exclusive(() => this.appendNow(files, topic, partition, first, last));
  }

  private async appendNow(files: DataFileEntry[], topic: string, partition: number, first: number, last: number): Promise<AppendOutcome> {
    let manifest: ManifestFileEntry | undefined;
    for (let attempt = 0; ; attempt++) {
      const metadata = this.loaded.metadata;
      const held = tableOffsets(metadata, topic).get(partition) ?? 0;
      if (held > last) return 'exists';
      if (held > first) return 'superseded';
      manifest ??= await this.writeManifest(addedEntries(files));
      const parent = mainSnapshot(metadata);
      const offsets = JSON.stringify(Object.fromEntries([...tableOffsets(metadata, topic).set(partition, last + 1)].sort((a, b) => a[0] - b[0])));
      try {
        await this.commitSnapshot(metadata, 'append', [manifest], await this.manifestsOf(parent), {
          ...changeSummary(files, [], parent),
          [OFFSETS_KEY_PREFIX + topic]: offsets,
        });
        return 'created';
      } catch (err) {
        // A conflict, or an answer lost: the table as it is now says whether this commit landed.
        if (!(err instanceof CommitConflictError) && !(err instanceof DependencyUnavailableError)) throw err;
        if (attempt >= MAX_CONFLICTS) throw conflictOutage(this, err);
        await this.refresh();
      }
    }
  }

  /**
   * Replaces data files by others holding the same rows (a compaction): one `replace` snapshot on
   * top of `parent`, which must still be main's. Throws CommitConflictError when it is not.
   */
  replace(metadata: TableMetadata, live: LiveFile[], replaced: ReadonlySet<string>, added: DataFileEntry[]): Promise<void> {
    return this.exclusive(() => this.replaceNow(metadata, live, replaced, added));
  }

  private async replaceNow(metadata: TableMetadata, live: LiveFile[], replaced: ReadonlySet<string>, added: DataFileEntry[]): Promise<void> {
    const parent = mainSnapshot(metadata);
    const removed = live.filter((f) => replaced.has(f.file.path)).map((f) => f.file);
    const rows = (l: DataFileEntry[]) => l.reduce((n, f) => n + f.recordCount, 0);
    if (rows(added) !== rows(removed)) throw new Error(`a rewrite of ${this.name} would change its row count (${rows(removed)} to ${rows(added)})`);
    const snapshotId = this.nextSnapshotId;
    const kept = live.map((f) => ({
      status: replaced.has(f.file.path) ? STATUS.deleted : STATUS.existing,
      snapshotId: replaced.has(f.file.path) ? snapshotId : f.snapshotId,
      sequenceNumber: f.sequenceNumber,
      fileSequenceNumber: f.fileSequenceNumber,
      file: f.file,
    }));
    const manifests = [await this.writeManifest(addedEntries(added)), await this.writeManifest(kept)];
    await this.commitSnapshot(metadata, 'replace', manifests, [], changeSummary(added, removed, parent));
  }

  /** The id the next snapshot written by this table takes (set per commit attempt). */
  private nextSnapshotId = newSnapshotId();
  /** Commits of this worker to this table, one at a time: partitions sharing the table would only make each other retry. */
  private commits: Promise<unknown> = Promise.resolve();

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.commits.then(run, run);
    this.commits = next.catch(() => undefined);
    return next;
  }

  /**
   * One snapshot on main: its manifest list (`fresh` manifests get its id and sequence number,
   * `carried` ones stay as they were), its summary with every table offset carried over, under a
   * requirement that main is still where it was in `metadata`, the state every part of the commit
   * was computed from (never `this.loaded`, which a commit of another partition may move meanwhile).
   */
  private async commitSnapshot(
    metadata: TableMetadata,
    operation: Snapshot['summary']['operation'],
    fresh: ManifestFileEntry[],
    carried: ManifestFileEntry[],
    summary: Record<string, string>,
  ): Promise<void> {
    const parent = mainSnapshot(metadata);
    const snapshotId = this.nextSnapshotId;
    this.nextSnapshotId = newSnapshotId();
    const sequence = metadata['last-sequence-number'] + 1;
    const listKey = `metadata/snap-${snapshotId}-1-${randomUUID()}.avro`;
    const entries = [
      ...fresh.map((m) => ({ ...m, sequence_number: sequence, min_sequence_number: m.min_sequence_number || sequence, added_snapshot_id: snapshotId })),
      ...carried,
    ];
    await this.store.putIfAbsent(listKey, writeAvroFile(MANIFEST_LIST_SCHEMA, entries, manifestListMetadata(snapshotId, parent?.['snapshot-id'], sequence)));
    const snapshot: Snapshot = {
      'snapshot-id': snapshotId,
      ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
      'sequence-number': sequence,
      'timestamp-ms': Date.now(),
      'manifest-list': `${metadata.location}/${listKey}`,
      summary: { ...carriedOffsets(metadata), ...summary, operation },
      'schema-id': metadata['current-schema-id'],
    };
    this.loaded = await this.catalog.commit(
      this.namespace,
      this.name,
      [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parent?.['snapshot-id'] ?? null }],
      [
        { action: 'add-snapshot', snapshot },
        { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshotId },
      ],
    );
  }

  /**
   * Writes a manifest; its list entry leaves snapshot id and sequence number at 0 for the commit to
   * fill, and its minimum sequence number too unless an entry carries an older one.
   */
  private async writeManifest(entries: ManifestEntryToWrite[]): Promise<ManifestFileEntry> {
    const metadata = this.loaded.metadata;
    const spec = defaultSpec(metadata);
    const m = manifestFile(spec, currentSchema(metadata), entries);
    const key = `metadata/${randomUUID()}-m0.avro`;
    const body = writeAvroFile(m.schema, m.records, m.metadata);
    await this.store.putIfAbsent(key, body);
    const count = (status: number) => entries.filter((e) => e.status === status);
    const rows = (status: number) => count(status).reduce((n, e) => n + e.file.recordCount, 0);
    const sequences = entries.flatMap((e) => (e.sequenceNumber === null ? [] : [e.sequenceNumber]));
    return {
      manifest_path: `${metadata.location}/${key}`,
      manifest_length: body.length,
      partition_spec_id: spec['spec-id'],
      content: 0,
      sequence_number: 0,
      min_sequence_number: sequences.length ? Math.min(...sequences) : 0,
      added_snapshot_id: 0,
      added_files_count: count(STATUS.added).length,
      existing_files_count: count(STATUS.existing).length,
      deleted_files_count: count(STATUS.deleted).length,
      added_rows_count: rows(STATUS.added),
      existing_rows_count: rows(STATUS.existing),
      deleted_rows_count: rows(STATUS.deleted),
    };
  }

  /** The manifests of a snapshot, as its manifest list names them. */
  async manifestsOf(snapshot: Snapshot | undefined): Promise<ManifestFileEntry[]> {
    if (!snapshot) return [];
    const list = await this.readFile(snapshot['manifest-list']);
    return readAvroFile(list, snapshot['manifest-list']).records.map(asManifestFileEntry);
  }

  /**
   * The data files a snapshot holds, with what their entries inherit made explicit. Files of
   * another partition spec than the table's default are refused: c360 writes only one.
   */
  async liveFiles(snapshot: Snapshot | undefined): Promise<LiveFile[]> {
    const spec = defaultSpec(this.loaded.metadata);
    const out: LiveFile[] = [];
    for (const m of await this.manifestsOf(snapshot)) {
      if (m.content !== 0) continue;
      if (m.partition_spec_id !== spec['spec-id'])
        throw new UnreadableFileError(`${m.manifest_path} is written under partition spec ${m.partition_spec_id}, which c360 does not read`);
      for (const r of readAvroFile(await this.readFile(m.manifest_path), m.manifest_path).records) {
        if (r.status === STATUS.deleted) continue;
        const d = r.data_file as Record<string, unknown>;
        if (Number(d.content ?? 0) !== 0) continue;
        const partition = d.partition as Record<string, unknown>;
        const inherited = r.status === STATUS.added;
        out.push({
          file: {
            path: String(d.file_path),
            partition: spec.fields.map((f) => (partition[f.name] ?? null) as number | string | null),
            recordCount: Number(d.record_count),
            fileSizeBytes: Number(d.file_size_in_bytes),
          },
          snapshotId: (r.snapshot_id as Long | null) ?? m.added_snapshot_id,
          sequenceNumber: (r.sequence_number as number | null) ?? (inherited ? m.sequence_number : null),
          fileSequenceNumber: (r.file_sequence_number as number | null) ?? (inherited ? m.sequence_number : null),
        });
      }
    }
    return out;
  }

  /**
   * Every file of the table's location that a snapshot in its history names, as store keys: the
   * manifest lists, the manifests, and the data files they hold (each manifest read once).
   */
  async referencedKeys(): Promise<Set<string>> {
    const { location, snapshots } = this.loaded.metadata;
    const keys = new Set<string>();
    // Files elsewhere (registered from another location) are not this table's to list or delete.
    const add = (fullPath: string) => fullPath.startsWith(`${location}/`) && keys.add(fullPath.slice(location.length + 1));
    const read = new Set<string>();
    for (const snapshot of snapshots ?? []) {
      add(snapshot['manifest-list']);
      for (const m of await this.manifestsOf(snapshot)) {
        add(m.manifest_path);
        if (read.has(m.manifest_path)) continue;
        read.add(m.manifest_path);
        for (const r of readAvroFile(await this.readFile(m.manifest_path), m.manifest_path).records)
          if (r.status !== STATUS.deleted) add(String((r.data_file as Record<string, unknown>).file_path));
      }
    }
    return keys;
  }

  /** What the table's location holds, with when each was written. */
  storedFiles(): Promise<StoredObject[]> {
    return this.store.listModified('');
  }

  removeFile(key: string): Promise<void> {
    return this.store.remove(key);
  }

  /** Writes a finished file's bytes under the table's location; returns its full path. */
  async put(key: string, body: Buffer): Promise<string> {
    await this.store.putIfAbsent(key, body);
    return `${this.loaded.metadata.location}/${key}`;
  }

  /** A file of the table by its full path. */
  async readFile(fullPath: string): Promise<Buffer> {
    return this.store.read(keyOf(this.loaded.metadata.location, fullPath));
  }

  close(): void {
    this.store.close();
  }
}

/** Summary counts of a change: files and rows added and removed, and the totals after it. */
function changeSummary(added: DataFileEntry[], removed: DataFileEntry[], parent: Snapshot | undefined): Record<string, string> {
  const rows = (l: DataFileEntry[]) => l.reduce((n, f) => n + f.recordCount, 0);
  const bytes = (l: DataFileEntry[]) => l.reduce((n, f) => n + f.fileSizeBytes, 0);
  const total = (key: string, change: number) => String(Number(parent?.summary[key] ?? 0) + change);
  return {
    'added-data-files': String(added.length),
    'added-records': String(rows(added)),
    'added-files-size': String(bytes(added)),
    ...(removed.length
      ? { 'deleted-data-files': String(removed.length), 'deleted-records': String(rows(removed)), 'removed-files-size': String(bytes(removed)) }
      : {}),
    'total-data-files': total('total-data-files', added.length - removed.length),
    'total-records': total('total-records', rows(added) - rows(removed)),
    'total-files-size': total('total-files-size', bytes(added) - bytes(removed)),
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
