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
import { C360Error } from '../contracts/errors.js';
import { crashPoint } from '../faults/failpoints.js';
import type { Logger } from '../observability/logger.js';
import { endSpan, processAttributes, SpanKind, startSpan } from '../observability/tracing.js';
import type { SinkMetrics } from './metrics.js';
import type { RotationOptions } from './options.js';
import { convertRow, ParquetFileWriter } from './parquet/parquet-file.js';
import type { SinkRecord } from './records.js';
import type { PublishOutcome, SinkLayer } from './sink-layer.js';

/**
 * The layer holds some records of a file and not others: another worker landed them, cut
 * differently. The partition sink has dropped what it held and asked to read again from `from`.
 */
export class SupersededError extends C360Error {
  constructor(
    readonly from: number,
    message: string,
  ) {
    super('stage.internal_error', message, { retriable: true });
  }
}

interface OpenFile {
  folder: string;
  target: string;
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
  /** The sampled traces of its records and when each was taken: their landing spans end when the file is stored. */
  traces: Array<[traceparent: string, takenAt: number]>;
}

/**
 * Files taken out of the open ones together, on their way into storage as one unit: one file in a
 * folder layer; in a table layer, every file the partition had open for the table, which then holds
 * all of the partition's records for it up to `through`.
 */
interface ClosingGroup {
  files: OpenFile[];
  target: string;
  through: number;
  attempts: number;
}

export interface PartitionSinkDeps {
  layer: SinkLayer;
  spoolDir: string;
  rotation: RotationOptions;
  metrics: SinkMetrics;
  logger: Logger;
  /** Reads the partition again from an offset (the worker's consumer seeks there). */
  rewind(offset: number): void;
}

export class PartitionSink {
  private readonly open = new Map<string, OpenFile>();
  /** Files closed by rotation or an idle flush and not yet in storage, oldest first. */
  private readonly closing: ClosingGroup[] = [];
  /** Per target (a folder, a table): the last offset of this partition that it already holds (-1: none). */
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
    if (offset <= (this.storedThrough.get(record.target) ?? (await this.readStored(record.target)))) {
      this.nextOffset = offset + 1;
      this.deps.metrics.skipped.inc({ topic: this.topic });
      return;
    }
    // Converted before anything changes: a value no column can hold throws here, and the record can be set aside.
    const schema = await this.deps.layer.fileSchema(record);
    const row = convertRow(schema, record.value, record.lineage);
    let file = this.open.get(record.folder);
    if (file && this.mustRotate(file, record)) {
      this.close(file, offset - 1);
      file = undefined;
    }
    file ??= this.start(offset, record, schema);
    file.writer.append(row);
    this.nextOffset = offset + 1;
    file.last = offset;
    file.count++;
    file.bytes += record.bytes;
    file.minTime = Math.min(file.minTime, record.receivedAt);
    file.maxTime = Math.max(file.maxTime, record.receivedAt);
    file.lastAppendWallMs = Date.now();
    if (record.trace) file.traces.push([record.trace, file.lastAppendWallMs]);
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
    for (const f of [...this.open.values(), ...this.closing.flatMap((c) => c.files)]) min = min === undefined ? f.first : Math.min(min, f.first);
    return min ?? this.nextOffset;
  }

  /** Closes the files that have had no record for the idle time, and publishes what is closed. */
  async flushIdle(nowMs: number): Promise<void> {
    for (const f of [...this.open.values()])
      if (this.open.has(f.folder) && nowMs - f.lastAppendWallMs >= this.deps.rotation.idleFlushMs) this.close(f, this.nextOffset! - 1);
    await this.settle();
  }

  async flushAll(): Promise<void> {
    for (const f of [...this.open.values()]) if (this.open.has(f.folder)) this.close(f, this.nextOffset! - 1);
    await this.settle();
  }

  /**
   * Drops every file not yet published: their records are read again from the committed offset, by
   * this worker or the next owner. Folders are listed again before they are written, since a file
   * whose upload reported a failure may have landed all the same.
   */
  discard(): void {
    for (const f of this.open.values()) f.writer.discard();
    for (const c of this.closing) for (const f of c.files) f.writer.discard();
    this.open.clear();
    this.closing.length = 0;
    this.storedThrough.clear();
    this.nextOffset = undefined;
  }

  get openFiles(): number {
    return this.open.size + this.closing.reduce((n, c) => n + c.files.length, 0);
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

  private start(offset: number, record: SinkRecord, schema: Parameters<typeof convertRow>[0]): OpenFile {
    const spool = path.join(this.deps.spoolDir, `${this.topic}+${this.partition}+${offset}.parquet.tmp`);
    const kv = [
      { key: 'c360.avro.schema', value: JSON.stringify(record.schema) },
      { key: 'c360.avro.schema_id', value: String(record.schemaId) },
      { key: 'c360.topic', value: this.topic },
      { key: 'c360.partition', value: String(this.partition) },
    ];
    const file: OpenFile = {
      folder: record.folder,
      target: record.target,
      schemaId: record.schemaId,
      schema: record.schema,
      writer: new ParquetFileWriter(spool, schema, kv, this.deps.rotation.rowGroupRows),
      first: offset,
      last: offset,
      count: 0,
      bytes: 0,
      firstTime: record.receivedAt,
      minTime: record.receivedAt,
      maxTime: record.receivedAt,
      lastAppendWallMs: Date.now(),
      traces: [],
    };
    this.open.set(record.folder, file);
    return file;
  }

  /**
   * Takes the file out of the open ones (in a table layer, with every other open file of its table),
   * to be written to its end and published by `settle`. `through`: the last offset taken so far.
   */
  private close(file: OpenFile, through: number): void {
    const files = this.deps.layer.closesTogether ? [...this.open.values()].filter((f) => f.target === file.target) : [file];
    for (const f of files) this.open.delete(f.folder);
    this.closing.push({ files, target: file.target, through: this.deps.layer.closesTogether ? through : file.last, attempts: 0 });
  }

  /** One closed group into its layer: written to its end, published, recorded as stored. */
  private async publish(c: ClosingGroup): Promise<void> {
    const layer = c.target.split('/')[0]!;
    const timer = this.deps.metrics.publishSeconds.startTimer({ layer });
    c.attempts++;
    let outcome: PublishOutcome;
    const first = Math.min(...c.files.map((f) => f.first));
    try {
      const files = c.files.map((f) => ({
        spoolPath: f.writer.path,
        folder: f.folder,
        first: f.first,
        last: f.last,
        schemaId: f.schemaId,
        minTime: f.minTime,
        maxTime: f.maxTime,
        closed: f.writer.close(),
      }));
      outcome = await this.deps.layer.publish({ topic: this.topic, partition: this.partition, target: c.target, through: c.through, files });
      if (outcome !== 'superseded') {
        // Stored from now on: a re-read record is skipped.
        this.storedThrough.set(c.target, Math.max(c.through, this.storedThrough.get(c.target) ?? -1));
        for (const f of files) {
          this.deps.metrics.files.inc({ layer, outcome });
          this.deps.metrics.fileBytes.inc({ layer }, f.closed.bytes);
        }
        for (const f of c.files) this.landed(f, c.target, outcome);
      }
    } catch (err) {
      // The files stay closing, owned by this partition: the caller waits and settles again.
      this.deps.metrics.publishFailures.inc({ layer });
      throw err;
    }
    timer();
    if (outcome === 'exists') {
      // A zombie that lost this partition landed the same records, or an earlier attempt of ours landed although it reported a failure.
      this.deps.logger.warn(
        { target: c.target, first, through: c.through, attempts: c.attempts },
        'records already in the layer (by another worker, or an attempt reported failed); kept what is there',
      );
    }
    if (outcome === 'superseded') {
      const from = this.committable() ?? first;
      this.discard();
      this.deps.rewind(from);
      throw new SupersededError(
        from,
        `${c.target} holds part of offsets ${first}-${c.through} of ${this.topic}[${this.partition}], landed by another worker; reading again from ${from}`,
      );
    }
  }

  /** A span per traced record of a stored file, from when the sink took it to now, under the trace it arrived in. */
  private landed(file: OpenFile, target: string, outcome: PublishOutcome): void {
    const attributes = { ...processAttributes(this.topic, this.partition), 'c360.target': target, 'c360.folder': file.folder, 'c360.publish': outcome };
    for (const [parent, takenAt] of file.traces) {
      const span = startSpan(`land ${target}`, { kind: SpanKind.CONSUMER, parent, startTime: takenAt, attributes });
      if (span) endSpan(span);
    }
  }

  /** What the target holds of this partition, asked once per target; after that the answer is in memory. */
  private async readStored(target: string): Promise<number> {
    const through = await this.deps.layer.storedThrough(target, this.topic, this.partition);
    this.storedThrough.set(target, through);
    return through;
  }
}
