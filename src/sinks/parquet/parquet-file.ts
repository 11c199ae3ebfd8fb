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
import { SchemaError } from '../../contracts/errors.js';
import { AvroToParquet, type Convert } from './avro-to-parquet.js';

export interface FileSchema {
  elements: SchemaElement[];
  /** `extra`: the column comes from the second object of a row (lineage), not the record. */
  columns: Array<{ name: string; convert: Convert; extra: boolean }>;
}

/** The Parquet schema of an Avro record with extra (lineage) fields appended, given as Avro fields too. */
export function fileSchema(record: Record<string, unknown>, extraFields: ReadonlyArray<Record<string, unknown>>): FileSchema {
  const own = new Set((record.fields as Array<{ name: string }>).map((f) => f.name));
  const clash = extraFields.find((f) => own.has(String(f.name)));
  if (clash) throw new SchemaError(`Avro record ${String(record.name)} has a field named ${String(clash.name)}, which the raw layer reserves for lineage.`);
  const fields = new AvroToParquet().fields({ ...record, fields: [...(record.fields as unknown[]), ...extraFields] });
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

/** hyparquet-writer's byte writer, drained into a file descriptor at every row group. */
class SpoolWriter extends ByteWriter {
  constructor(
    private readonly fd: number,
    private readonly hash: Hash,
  ) {
    super(1 << 20);
  }

  flush(): void {
    const chunk = new Uint8Array(this.buffer, 0, this.index);
    this.hash.update(chunk);
    let written = 0;
    while (written < chunk.length) written += fs.writeSync(this.fd, chunk, written);
    this.index = 0;
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

export class ParquetFileWriter {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private readonly writer: SpoolWriter;
  private readonly parquet: ParquetWriter;
  /** The row group being filled, column by column, already converted. */
  private columns: unknown[][];
  private pending = 0;
  private rows = 0;

  constructor(
    readonly path: string,
    private readonly schema: FileSchema,
    kvMetadata: KeyValue[],
    private readonly rowGroupRows: number,
  ) {
    this.fd = fs.openSync(path, 'wx');
    this.writer = new SpoolWriter(this.fd, this.hash);
    this.parquet = new ParquetWriter({ writer: this.writer, schema: schema.elements, kvMetadata, createdBy: 'c360-ingest (hyparquet-writer)' });
    this.columns = schema.columns.map(() => []);
  }

  /** A row from convertRow. */
  append(row: unknown[]): void {
    for (let i = 0; i < row.length; i++) this.columns[i]!.push(row[i]);
    this.pending++;
    this.rows++;
    if (this.pending >= this.rowGroupRows) this.writeGroup();
  }

  private writeGroup(): void {
    if (this.pending === 0) return;
    const columnData = this.schema.columns.map(({ name }, i) => ({ name, data: this.columns[i]! }));
    void this.parquet.write({ columnData, rowGroupSize: this.pending });
    this.columns = this.schema.columns.map(() => []);
    this.pending = 0;
  }

  /** Writes the last row group and the footer, fsyncs and closes the spool file. */
  close(): ClosedFile {
    this.writeGroup();
    void this.parquet.finish();
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    return { rows: this.rows, bytes: this.writer.offset, sha256: this.hash.digest('hex') };
  }

  /** Drops an unfinished file (a revoked partition, a stop): its rows will be read again from Kafka. */
  discard(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.path, { force: true });
  }
}
