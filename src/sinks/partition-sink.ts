/**
 * What one sink worker holds for one topic-partition: at most one open file per folder (source +
 * date), and what storage already has. Records arrive in offset order; a file closes when a
 * rotation rule says so, is published under its deterministic name, and gets its manifest entry.
 *
 * Exactly once rests on two facts. Offsets are committed only up to the first record of a file
 * still open, so a crash re-reads nothing that is not in storage or in an open (discarded) file.
 * And before writing a folder, the worker lists the files its partition already has there and
 * skips the offsets they hold, so a re-read record never lands twice, however the first run cut
 * its files (an idle flush, a stop).
 */
import path from 'node:path';
import { PROCESSOR_VERSION } from '../contracts/project.js';
import { crashPoint } from '../faults/failpoints.js';
import type { Logger } from '../observability/logger.js';
import type { ObjectStore, PutOutcome } from '../storage/object-store.js';
import { fileName, manifestKey, parseFileName, partitionPrefix } from './layout.js';
import { type ManifestEntry, manifestEntryFromFile } from './manifest.js';
import type { SinkMetrics } from './metrics.js';
import type { RotationOptions } from './options.js';
import { convertRow, type FileSchema, ParquetFileWriter } from './parquet/parquet-file.js';
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
  /** Per folder: the last offset of this partition that storage already holds (-1: none). */
  private readonly storedThrough = new Map<string, number>();
  private nextOffset: number | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly deps: PartitionSinkDeps,
  ) {}

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
    this.nextOffset = offset + 1;
    let file = this.open.get(record.folder);
    if (file && this.mustRotate(file, record)) {
      await this.publish(file);
      file = undefined;
    }
    file ??= this.start(offset, record);
    file.writer.append(row);
    file.last = offset;
    file.count++;
    file.bytes += record.bytes;
    file.minTime = Math.min(file.minTime, record.receivedAt);
    file.maxTime = Math.max(file.maxTime, record.receivedAt);
    file.lastAppendWallMs = Date.now();
    this.deps.metrics.records.inc({ topic: this.topic });
    crashPoint('sink-append');
  }

  /** The offset to commit: the first record of the oldest open file, or past everything seen. */
  committable(): number | undefined {
    let min: number | undefined;
    for (const f of this.open.values()) min = min === undefined ? f.first : Math.min(min, f.first);
    return min ?? this.nextOffset;
  }

  async flushIdle(nowMs: number): Promise<void> {
    for (const f of [...this.open.values()]) if (nowMs - f.lastAppendWallMs >= this.deps.rotation.idleFlushMs) await this.publish(f);
  }

  async flushAll(): Promise<void> {
    for (const f of [...this.open.values()]) await this.publish(f);
  }

  /** Drops open files unpublished: their records are read again from the committed offset, by this worker or the next owner. */
  discard(): void {
    for (const f of this.open.values()) f.writer.discard();
    this.open.clear();
    this.nextOffset = undefined;
  }

  get openFiles(): number {
    return this.open.size;
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

  private async publish(file: OpenFile): Promise<void> {
    const layer = file.folder.split('/')[0]!;
    const timer = this.deps.metrics.publishSeconds.startTimer({ layer });
    this.open.delete(file.folder);
    const closed = file.writer.close();
    const key = `${file.folder}/${fileName({ topic: this.topic, partition: this.partition, firstOffset: file.first, lastOffset: file.last })}`;
    let outcome: PutOutcome;
    try {
      outcome = await this.deps.store.publishFile(file.writer.path, key);
    } catch (err) {
      // The records are read again from the committed offset once the store answers.
      file.writer.discard();
      this.deps.metrics.publishFailures.inc({ layer });
      throw err;
    }
    crashPoint('sink-after-publish');
    const entry: ManifestEntry = {
      file: key.slice(key.lastIndexOf('/') + 1),
      topic: this.topic,
      partition: this.partition,
      first_offset: file.first,
      last_offset: file.last,
      rows: closed.rows,
      bytes: closed.bytes,
      sha256: closed.sha256,
      schema_id: file.schemaId,
      min_received_at: new Date(file.minTime).toISOString(),
      max_received_at: new Date(file.maxTime).toISOString(),
      written_at: new Date().toISOString(),
      writer: PROCESSOR_VERSION,
    };
    await this.deps.store.putIfAbsent(manifestKey(key), Buffer.from(`${JSON.stringify(entry, null, 2)}\n`));
    if (outcome === 'exists') {
      // Another worker (a zombie that lost this partition) wrote the same name: the first file stays, ours is dropped.
      this.deps.logger.warn({ key }, 'file already published by another worker; kept the existing one');
    }
    this.storedThrough.set(file.folder, Math.max(file.last, this.storedThrough.get(file.folder) ?? -1));
    this.deps.metrics.files.inc({ layer, outcome });
    this.deps.metrics.fileBytes.inc({ layer }, closed.bytes);
    timer();
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
          const entry = await manifestEntryFromFile(this.deps.store, key);
          await this.deps.store.putIfAbsent(manifestKey(key), Buffer.from(`${JSON.stringify(entry, null, 2)}\n`));
        }
      }
    }
    this.storedThrough.set(folder, through);
    return through;
  }
}
