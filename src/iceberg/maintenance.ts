/**
 * Keeping tables healthy: compaction joins a partition's small data files into files of about the
 * target size, expiry drops snapshots older than the retention from the table's history, and
 * orphan removal deletes the files no snapshot names any more (replaced by a compaction whose
 * snapshots expired, or written by a sink that crashed before its commit) once they are older than
 * a grace period, as Iceberg's remove_orphan_files does.
 *
 * Compaction copies row groups byte for byte (sinks/parquet/concat.ts): rows never change, sealed
 * personal values stay sealed (or shredded), and only files of one Parquet schema are joined. Its
 * `replace` snapshot sits on the snapshot it planned from; a sink that commits meanwhile makes it
 * plan again. Expiry only edits the history; orphan removal then deletes the files.
 */
import { randomUUID } from 'node:crypto';
import { concatParquet } from '../sinks/parquet/concat.js';
import { layerFooter } from '../sinks/parquet/read.js';
import type { DataFileEntry } from './manifests.js';
import { CommitConflictError, type RestCatalog } from './rest-catalog.js';
import type { IcebergTable, LiveFile } from './table.js';
import { ancestors, mainSnapshot } from './table-metadata.js';

export interface CompactOptions {
  /** Files at or above this size are left alone; joined files grow up to it. */
  targetBytes: number;
  /** A partition is compacted once it has at least this many small files. */
  minFiles: number;
}

export interface CompactReport {
  table: string;
  filesBefore: number;
  filesAfter: number;
  rewritten: number;
  rows: number;
}

/** Key-value metadata that names one source file, not meaningful in a joined one. */
const PER_FILE_KEYS = new Set(['c360.topic', 'c360.partition']);
const ATTEMPTS = 5;

export async function compactTable(table: IcebergTable, options: CompactOptions): Promise<CompactReport> {
  for (let attempt = 1; ; attempt++) {
    const metadata = await table.refresh();
    const parent = mainSnapshot(metadata);
    const live = await table.liveFiles(parent);
    const report: CompactReport = { table: table.name, filesBefore: live.length, filesAfter: live.length, rewritten: 0, rows: 0 };
    if (!parent) return report;
    const replaced = new Set<string>();
    const added: DataFileEntry[] = [];
    for (const group of smallFileGroups(live, options)) {
      const joined = await joinGroup(table, group, options.targetBytes);
      for (const j of joined) {
        added.push(j.entry);
        for (const f of j.from) replaced.add(f.file.path);
        report.rows += j.entry.recordCount;
      }
    }
    if (added.length === 0) return report;
    try {
      await table.replace(metadata, live, replaced, added);
      return { ...report, filesAfter: live.length - replaced.size + added.length, rewritten: replaced.size };
    } catch (err) {
      // A sink committed meanwhile: plan again on the new snapshot (the files just written stay unreferenced).
      if (!(err instanceof CommitConflictError) || attempt >= ATTEMPTS) throw err;
    }
  }
}

/** Per partition, its files below the target size, when there are enough of them to be worth joining. */
function smallFileGroups(live: LiveFile[], options: CompactOptions): LiveFile[][] {
  const byPartition = new Map<string, LiveFile[]>();
  for (const f of live) {
    if (f.file.fileSizeBytes >= options.targetBytes) continue;
    const key = JSON.stringify(f.file.partition);
    byPartition.set(key, [...(byPartition.get(key) ?? []), f]);
  }
  return [...byPartition.values()].filter((g) => g.length >= options.minFiles);
}

/** A partition's small files joined, by Parquet schema, into files of up to about the target size. */
async function joinGroup(table: IcebergTable, group: LiveFile[], targetBytes: number): Promise<Array<{ entry: DataFileEntry; from: LiveFile[] }>> {
  const bySchema = new Map<string, Array<{ live: LiveFile; bytes: Buffer }>>();
  for (const live of group) {
    const bytes = await table.readFile(live.file.path);
    const schema = JSON.stringify(layerFooter(bytes, live.file.path).schema);
    bySchema.set(schema, [...(bySchema.get(schema) ?? []), { live, bytes }]);
  }
  const out: Array<{ entry: DataFileEntry; from: LiveFile[] }> = [];
  for (const files of bySchema.values()) {
    let bin: Array<{ live: LiveFile; bytes: Buffer }> = [];
    let size = 0;
    const flush = async () => {
      if (bin.length >= 2) out.push(await writeJoined(table, bin));
      bin = [];
      size = 0;
    };
    for (const f of files) {
      if (size + f.bytes.length > targetBytes) await flush();
      bin.push(f);
      size += f.bytes.length;
    }
    await flush();
  }
  return out;
}

async function writeJoined(table: IcebergTable, bin: Array<{ live: LiveFile; bytes: Buffer }>): Promise<{ entry: DataFileEntry; from: LiveFile[] }> {
  const first = bin[0]!.live.file;
  const body = concatParquet(
    bin.map((f) => ({ bytes: f.bytes, where: f.live.file.path })),
    PER_FILE_KEYS,
  );
  const rows = Number(layerFooter(body, 'joined file').num_rows);
  const expected = bin.reduce((n, f) => n + f.live.file.recordCount, 0);
  if (rows !== expected) throw new Error(`joining ${bin.length} files of ${table.name} gave ${rows} rows instead of ${expected}`);
  const folder = first.path.slice(0, first.path.lastIndexOf('/'));
  const key = `${folder.slice(table.metadata.location.length + 1)}/compacted-${randomUUID()}.parquet`;
  const path = await table.put(key, body);
  return { entry: { path, partition: first.partition, recordCount: rows, fileSizeBytes: body.length }, from: bin.map((f) => f.live) };
}

export interface ExpireOptions {
  /** Snapshots older than this instant (ms) may go. */
  olderThanMs: number;
  /** The newest snapshots of main's history that stay whatever their age. */
  retainLast: number;
}

/** Drops old snapshots from a table's history; returns how many went. */
export async function expireSnapshots(catalog: RestCatalog, table: IcebergTable, options: ExpireOptions): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const metadata = await table.refresh();
    const current = mainSnapshot(metadata);
    const kept = new Set([...ancestors(metadata, current)].slice(0, Math.max(1, options.retainLast)).map((s) => s['snapshot-id']));
    const gone = (metadata.snapshots ?? []).filter((s) => !kept.has(s['snapshot-id']) && s['timestamp-ms'] < options.olderThanMs).map((s) => s['snapshot-id']);
    if (gone.length === 0) return 0;
    try {
      await catalog.commit(
        table.namespace,
        table.name,
        [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': current?.['snapshot-id'] ?? null }],
        [{ action: 'remove-snapshots', 'snapshot-ids': gone }],
      );
      return gone.length;
    } catch (err) {
      if (!(err instanceof CommitConflictError) || attempt >= ATTEMPTS) throw err;
    }
  }
}

export interface OrphanOptions {
  /** Files written before this instant (ms) may go: a writer's files wait at most that long for their commit. */
  olderThanMs: number;
}

/** Table files that are data files or manifests (never the catalog's metadata JSON). */
const TABLE_FILE = /\.(parquet|avro)$/;

/** Deletes the table's files that no snapshot names and that are older than the grace; returns how many went. */
export async function removeOrphanFiles(table: IcebergTable, options: OrphanOptions): Promise<number> {
  await table.refresh();
  const referenced = await table.referencedKeys();
  const orphans = (await table.storedFiles()).filter((o) => TABLE_FILE.test(o.key) && o.modifiedMs < options.olderThanMs && !referenced.has(o.key));
  if (orphans.length === 0) return 0;
  // A commit since the history was read may name one of them (a sink publishing a file again): asked once more right before.
  await table.refresh();
  const still = await table.referencedKeys();
  let removed = 0;
  for (const o of orphans) {
    if (still.has(o.key)) continue;
    await table.removeFile(o.key);
    removed++;
  }
  return removed;
}
