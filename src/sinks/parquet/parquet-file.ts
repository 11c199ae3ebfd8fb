/**
 * One Parquet file being written: rows are buffered up to a row group, encoded by hyparquet-writer
 * and appended to a local spool file, hashing as it goes; `close` fsyncs it and reports its sha256.
 * Memory is bounded by one row group, whatever the file's size. The bytes depend only on the rows
 * and the schema (no clock, no host), so a replay that writes the same rows writes the same file.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import type { KeyValue, SchemaElement } from 'hyparquet';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { onDisk, SchemaError } from '../../contracts/errors.js';
import { AvroToParquet, type Convert, type TableColumns } from './avro-to-parquet.js';

export interface FileSchema {
  elements: SchemaElement[];
  /** `extra`: the column comes from the second object of a row (lineage), not the record. */
  columns: Array<{ name: string; convert: Convert; extra: boolean }>;
}

/** The Parquet schema of an Avro record with extra (lineage) fields appended, given as Avro fields too; a table's file carries its field ids. */
export function fileSchema(record: Record<string, unknown>, extraFields: ReadonlyArray<Record<string, unknown>>, table?: TableColumns): FileSchema {
  const own = new Set((record.fields as Array<{ name: string }>).map((f) => f.name));
  const clash = extraFields.find((f) => own.has(String(f.name)));
  if (clash) throw new SchemaError(`Avro record ${String(record.name)} has a field named ${String(clash.name)}, which the raw layer reserves for lineage.`);
  const fields = new AvroToParquet(table).fields({ ...record, fields: [...(record.fields as unknown[]), ...extraFields] });
  const extra = new Set(extraFields.map((f) => String(f.name)));
  return {
    elements: [{ name: 'schema', num_children: fields.length }, ...fields.flatMap((f) => f.node.elements)],
    columns: fields.map((f) => ({ name: f.name, convert: f.node.convert, extra: extra.has(f.name) })),
  };
}

/**
 * A row in the file's column order, each value converted to its Parquet form. It throws on a value
 * its column cannot hold, before anything is written: the caller can set that record aside.
 */
export function convertRow(schema: FileSchema, value: Record<string, unknown>, extra: Record<string, unknown>): unknown[] {
  const row = new Array<unknown>(schema.columns.length);
  for (let i = 0; i < row.length; i++) {
    const { name, convert, extra: side } = schema.columns[i]!;
    row[i] = convert((side ? extra : value)[name]);
  }
  return row;
}

/**
 * hyparquet-writer's byte writer, drained into a file descriptor at every row group. A write the
 * disk fails (full, an I/O error) is not lost: the bytes stay buffered, `written` says how many of
 * them are on disk, and the next drain goes on from there, so the file stays exactly what was encoded.
 */
class SpoolWriter extends ByteWriter {
  /** Bytes of the buffer already on disk. */
  private written = 0;
  /** Why the last drain stopped, until one succeeds. */
  failure: Error | undefined;

  constructor(
    private readonly fd: number,
    private readonly hash: Hash,
    private readonly path: string,
  ) {
    super(1 << 20);
  }

  /** hyparquet-writer calls this after each row group, inside its own bookkeeping: a failure is kept, not thrown into it. */
  flush(): void {
    try {
      this.drain();
    } catch (err) {
      this.failure = err as Error;
    }
  }

  /** Writes what is buffered; throws the disk's failure, classified, leaving the rest buffered. */
  drain(): void {
    const buffered = new Uint8Array(this.buffer, 0, this.index);
    while (this.written < buffered.length) {
      this.written += onDisk('disk', `writing the spool file ${this.path}`, () => fs.writeSync(this.fd, buffered, this.written));
    }
    this.hash.update(buffered);
    this.index = 0;
    this.written = 0;
    this.failure = undefined;
  }

  override finish(): void {
    this.flush();
  }
}

export interface ClosedFile {
  rows: number;
  bytes: number;
  sha256: string;
}

/**
 * A spool file: rows go in until `close`. A disk that fails while a row group or the footer is
 * written leaves the file `unsettled`: `settle` (and `close`, which may be called again) go on
 * writing where the disk stopped, so a file is never cut short or written twice.
 */
export class ParquetFileWriter {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private readonly writer: SpoolWriter;
  private readonly parquet: ParquetWriter;
  /** The row group being filled, column by column, already converted. */
  private columns: unknown[][];
  private pending = 0;
  private rows = 0;
  /** open: takes rows; footer: the footer is encoded, maybe not all on disk; closed: fsynced and closed. */
  private state: 'open' | 'footer' | 'closed' = 'open';
  private closed: ClosedFile | undefined;

  constructor(
    readonly path: string,
    private readonly schema: FileSchema,
    kvMetadata: KeyValue[],
    private readonly rowGroupRows: number,
  ) {
    this.fd = onDisk('disk', `creating the spool file ${path}`, () => fs.openSync(path, 'wx'));
    this.writer = new SpoolWriter(this.fd, this.hash, path);
    this.parquet = new ParquetWriter({ writer: this.writer, schema: schema.elements, kvMetadata, createdBy: 'c360-ingest (hyparquet-writer)' });
    this.columns = schema.columns.map(() => []);
  }

  /** Whether bytes wait for a disk that failed: no row should be added until `settle` succeeds. */
  get unsettled(): boolean {
    return this.writer.failure !== undefined;
  }

  /** Writes what a failed disk left buffered; throws (classified) while it still fails. */
  settle(): void {
    if (this.writer.failure) this.writer.drain();
  }

  /** A row from convertRow. It is in the file once this returns, even when the disk failed to take its row group (`unsettled`). */
  append(row: unknown[]): void {
    for (let i = 0; i < row.length; i++) this.columns[i]!.push(row[i]);
    this.pending++;
    this.rows++;
    if (this.pending >= this.rowGroupRows) this.writeGroup();
  }

  private writeGroup(): void {
    if (this.pending === 0) return;
    const columnData = this.schema.columns.map(({ name }, i) => ({ name, data: this.columns[i]! }));
    this.columns = this.schema.columns.map(() => []);
    this.pending = 0;
    void this.parquet.write({ columnData, rowGroupSize: columnData[0]?.data.length ?? 0 });
  }

  /** Writes the last row group and the footer, fsyncs and closes the spool file; after a disk failure, call it again. */
  close(): ClosedFile {
    if (this.closed) return this.closed;
    if (this.state === 'open') {
      this.settle();
      this.writeGroup();
      this.state = 'footer';
      void this.parquet.finish();
    }
    this.settle();
    onDisk('disk', `syncing the spool file ${this.path}`, () => fs.fsyncSync(this.fd));
    fs.closeSync(this.fd);
    this.state = 'closed';
    this.closed = { rows: this.rows, bytes: this.writer.offset, sha256: this.hash.digest('hex') };
    return this.closed;
  }

  /** Drops the file (a revoked partition, a stop): its rows will be read again from Kafka. */
  discard(): void {
    if (this.state !== 'closed') {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed
      }
      this.state = 'closed';
    }
    fs.rmSync(this.path, { force: true });
  }
}
