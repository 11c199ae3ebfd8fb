/**
 * What one sink worker holds for one topic-partition: at most one open file per folder (source +
 * date), files closed but not yet in storage, and what storage already has. Records arrive in
 * offset order; a file closes when a rotation rule says so, is published under its deterministic
 * name, and gets its manifest entry.
 *
 * Exactly once rests on three facts. Offsets are committed only up to the first record of a file
 * not yet published (open, or closed and waiting for the store), so a crash re-reads nothing that
 * is not in storage. A file the store or the disk failed to take stays owned and is published
 * again until it lands (`settle`), or until the partition is revoked or read again from its
 * committed offset (`discard`); the caller settles before handing over the next record, so a
 * record is taken once and never waits behind a failure in memory. And before writing a folder,
 * the worker lists the files its partition already has there and skips the offsets they hold, so a
 * re-read record never lands twice, however the first run cut its files (an idle flush, a stop).
 */
import path from 'node:path';
import { DependencyRefusedError, UnreadableFileError } from '../contracts/errors.js';
import { PROCESSOR_VERSION } from '../contracts/project.js';
import { crashPoint } from '../faults/failpoints.js';
import type { Logger } from '../observability/logger.js';
import type { ObjectStore, PutOutcome } from '../storage/object-store.js';
import { fileName, manifestKey, parseFileName, partitionPrefix } from './layout.js';
import { type ManifestEntry, manifestEntryFromFile } from './manifest.js';
import type { SinkMetrics } from './metrics.js';
import type { RotationOptions } from './options.js';
import { type ClosedFile, convertRow, type FileSchema, ParquetFileWriter } from './parquet/parquet-file.js';
import type { SinkRecord } from './records.js';

interface OpenFile {
  folder: string;
  schemaId: number;
  schema: Record<string, unknown>;
  writer: ParquetFileWriter;
  first: number;
  last: number;
  count: number;
  bytes: number;
  firstTime: number;
  minTime: number;
  maxTime: number;
  lastAppendWallMs: number;
}

/** A file taken out of the open ones, on its way into storage; `outcome` once the store has it. */
interface ClosingFile {
  file: OpenFile;
  key: string;
  attempts: number;
  outcome: PutOutcome | undefined;
}

export interface PartitionSinkDeps {
  store: ObjectStore;
  spoolDir: string;
  rotation: RotationOptions;
  fileSchema(schemaId: number, schema: Record<string, unknown>): FileSchema;
  metrics: SinkMetrics;
  logger: Logger;
}

export class PartitionSink {
  private readonly open = new Map<string, OpenFile>();
  /** Files closed by rotation or an idle flush and not yet in storage, oldest first. */
  private readonly closing: ClosingFile[] = [];
  /** Per folder: the last offset of this partition that storage already holds (-1: none). */
  private readonly storedThrough = new Map<string, number>();
  private nextOffset: number | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly deps: PartitionSinkDeps,
  ) {}

  /**
   * Takes one record into its folder's file. It throws only before the record is taken: for the
   * record's own fault (a value no column can hold: the caller sets it aside), or for the store or
   * disk failing (listing a folder, creating a file: the caller waits and calls again). A failure of
   * the store or disk after the record is taken is left for `settle`.
   */
  async append(offset: number, record: SinkRecord): Promise<void> {
    // Kafka hands a partition back from its committed offset after a rebalance: restart the open files from there.
    if (this.nextOffset !== undefined && offset < this.nextOffset) this.discard();
    // The listing happens once per folder; after that the answer is in memory.
    if (offset <= (this.storedThrough.get(record.folder) ?? (await this.listStored(record.folder)))) {
      this.nextOffset = offset + 1;
      this.deps.metrics.skipped.inc({ topic: this.topic });
      return;
    }
    // Converted before anything changes: a value no column can hold throws here, and the record can be set aside.
    const row = convertRow(this.deps.fileSchema(record.schemaId, record.schema), record.value, record.lineage);
    let file = this.open.get(record.folder);
    if (file && this.mustRotate(file, record)) {
      this.close(file);
      file = undefined;
    }
    file ??= this.start(offset, record);
    file.writer.append(row);
    this.nextOffset = offset + 1;
    file.last = offset;
    file.count++;
    file.bytes += record.bytes;
    file.minTime = Math.min(file.minTime, record.receivedAt);
    file.maxTime = Math.max(file.maxTime, record.receivedAt);
    file.lastAppendWallMs = Date.now();
    this.deps.metrics.records.inc({ topic: this.topic });
    crashPoint('sink-append');
  }

  /**
   * Finishes what the store or disk left undone: writes the bytes of open files a failed disk kept
   * buffered, and publishes every closed file, oldest first. Throws (classified) while either still
   * fails; everything stays owned, so calling it again goes on where it stopped.
   */
  async settle(): Promise<void> {
    for (const f of this.open.values()) f.writer.settle();
    while (this.closing.length > 0) {
      await this.publish(this.closing[0]!);
      this.closing.shift();
    }
  }

  /** Whether `settle` has work left: bytes a failed disk kept buffered, or closed files not yet published. */
  get unsettled(): boolean {
    if (this.closing.length > 0) return true;
    for (const f of this.open.values()) if (f.writer.unsettled) return true;
    return false;
  }

  /** The offset to commit: the first record of the oldest file not yet published, or past everything seen. */
  committable(): number | undefined {
    let min: number | undefined;
    for (const f of [...this.open.values(), ...this.closing.map((c) => c.file)]) min = min === undefined ? f.first : Math.min(min, f.first);
    return min ?? this.nextOffset;
  }

  /** Closes the files that have had no record for the idle time, and publishes what is closed. */
  async flushIdle(nowMs: number): Promise<void> {
    for (const f of [...this.open.values()]) if (nowMs - f.lastAppendWallMs >= this.deps.rotation.idleFlushMs) this.close(f);
    await this.settle();
  }

  async flushAll(): Promise<void> {
    for (const f of [...this.open.values()]) this.close(f);
    await this.settle();
  }

  /**
   * Drops every file not yet published: their records are read again from the committed offset, by
   * this worker or the next owner. Folders are listed again before they are written, since a file
   * whose upload reported a failure may have landed all the same.
   */
  discard(): void {
    for (const f of this.open.values()) f.writer.discard();
    for (const c of this.closing) c.file.writer.discard();
    this.open.clear();
    this.closing.length = 0;
    this.storedThrough.clear();
    this.nextOffset = undefined;
  }

  get openFiles(): number {
    return this.open.size + this.closing.length;
  }

  private mustRotate(file: OpenFile, record: SinkRecord): boolean {
    const r = this.deps.rotation;
    return (
      record.schemaId !== file.schemaId ||
      file.count >= r.maxRecords ||
      file.bytes + record.bytes > r.maxBytes ||
      record.receivedAt - file.firstTime >= r.maxSpanMs
    );
  }

  private start(offset: number, record: SinkRecord): OpenFile {
    const spool = path.join(this.deps.spoolDir, `${this.topic}+${this.partition}+${offset}.parquet.tmp`);
    const kv = [
      { key: 'c360.avro.schema', value: JSON.stringify(record.schema) },
      { key: 'c360.avro.schema_id', value: String(record.schemaId) },
      { key: 'c360.topic', value: this.topic },
      { key: 'c360.partition', value: String(this.partition) },
    ];
    const file: OpenFile = {
      folder: record.folder,
      schemaId: record.schemaId,
      schema: record.schema,
      writer: new ParquetFileWriter(spool, this.deps.fileSchema(record.schemaId, record.schema), kv, this.deps.rotation.rowGroupRows),
      first: offset,
      last: offset,
      count: 0,
      bytes: 0,
      firstTime: record.receivedAt,
      minTime: record.receivedAt,
      maxTime: record.receivedAt,
      lastAppendWallMs: Date.now(),
    };
    this.open.set(record.folder, file);
    return file;
  }

  /** Takes the file out of the open ones; it is written to its end and published by `settle`. */
  private close(file: OpenFile): void {
    this.open.delete(file.folder);
    this.closing.push({
      file,
      key: `${file.folder}/${fileName({ topic: this.topic, partition: this.partition, firstOffset: file.first, lastOffset: file.last })}`,
      attempts: 0,
      outcome: undefined,
    });
  }

  /** One closed file into storage: written to its end, uploaded, recorded as stored, given its manifest entry. Each step is done once. */
  private async publish(c: ClosingFile): Promise<void> {
    const layer = c.file.folder.split('/')[0]!;
    const timer = this.deps.metrics.publishSeconds.startTimer({ layer });
    c.attempts++;
    try {
      const closed = c.file.writer.close();
      if (c.outcome === undefined) {
        c.outcome = await this.deps.store.publishFile(c.file.writer.path, c.key);
        // Stored from now on, whatever happens to the manifest entry: a re-read record is skipped.
        this.storedThrough.set(c.file.folder, Math.max(c.file.last, this.storedThrough.get(c.file.folder) ?? -1));
        crashPoint('sink-after-publish');
      }
      await this.deps.store.putIfAbsent(manifestKey(c.key), Buffer.from(`${JSON.stringify(this.manifestEntry(c, closed), null, 2)}\n`));
      if (c.outcome === 'exists') {
        // A zombie that lost this partition wrote the same name, or an earlier attempt of ours landed although it reported a failure.
        this.deps.logger.warn(
          { key: c.key, attempts: c.attempts },
          'file already published (by another worker, or an attempt reported failed); kept the existing one',
        );
      }
      this.deps.metrics.files.inc({ layer, outcome: c.outcome });
      this.deps.metrics.fileBytes.inc({ layer }, closed.bytes);
      timer();
    } catch (err) {
      // The file stays closing, owned by this partition: the caller waits and settles again.
      this.deps.metrics.publishFailures.inc({ layer });
      throw err;
    }
  }

  private manifestEntry(c: ClosingFile, closed: ClosedFile): ManifestEntry {
    return {
      file: c.key.slice(c.key.lastIndexOf('/') + 1),
      topic: this.topic,
      partition: this.partition,
      first_offset: c.file.first,
      last_offset: c.file.last,
      rows: closed.rows,
      bytes: closed.bytes,
      sha256: closed.sha256,
      schema_id: c.file.schemaId,
      min_received_at: new Date(c.file.minTime).toISOString(),
      max_received_at: new Date(c.file.maxTime).toISOString(),
      written_at: new Date().toISOString(),
      writer: PROCESSOR_VERSION,
    };
  }

  /** Lists the partition's files in a folder once, and completes a manifest a crash left without its entry. */
  private async listStored(folder: string): Promise<number> {
    const files = (await this.deps.store.list(partitionPrefix(folder, this.topic, this.partition))).filter((k) => k.endsWith('.parquet'));
    let through = -1;
    if (files.length > 0) {
      const entries = new Set(await this.deps.store.list(partitionPrefix(`${folder}/_manifest`, this.topic, this.partition)));
      for (const key of files) {
        through = Math.max(through, parseFileName(key)?.lastOffset ?? -1);
        if (!entries.has(manifestKey(key))) {
          const entry = await manifestEntryFromFile(this.deps.store, key).catch((err: unknown) => {
            // A file under a name of this partition that is not one it wrote: the store's content to fix, not the record's fault.
            throw err instanceof UnreadableFileError ? new DependencyRefusedError('object-store', `${err.message}; move it out of the layer`) : err;
          });
          await this.deps.store.putIfAbsent(manifestKey(key), Buffer.from(`${JSON.stringify(entry, null, 2)}\n`));
        }
      }
    }
    this.storedThrough.set(folder, through);
    return through;
  }
}
