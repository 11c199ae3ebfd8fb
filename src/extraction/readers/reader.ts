/**
 * A file format's reader: rows as a stream, in order, each with its 1-based row number (header not
 * counted). A row that cannot become a record is `rejected` with its typed code, and the file goes on.
 */
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import { PassThrough, pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { RecordErrorCode } from '../../contracts/errors.js';
import type { ComponentSpec } from '../../registry.js';

export type FileRow =
  | { row: number; line?: number; cells: Record<string, unknown> }
  | { row: number; line?: number; rejected: { code: RecordErrorCode; message: string } };

export interface RowReader {
  rows(): AsyncIterable<FileRow>;
  /** Bytes of the file read so far (compressed bytes for gzip), for progress. */
  bytesRead(): number;
}

interface ReaderOptions {
  /** CSV-like formats: the cell delimiter; each format has its own default. */
  delimiter?: string;
  /** The record limit: a line longer than this is never held in memory; its row is rejected as size.too_large. */
  maxRowBytes: number;
}

/** An input format, registered by name in readers/index.ts. */
export interface FormatSpec extends ComponentSpec {
  /** File name extensions (lower case, before any .gz) that mean this format. */
  extensions: string[];
  /** Whether the first line names the columns (CSV, TSV), so a file without one is recognisable. */
  headerRow: boolean;
  create(file: string, options: ReaderOptions): RowReader;
}

/** A gzip file may inflate to this many times its size (real exports stay far below), and always to 64 MiB. */
const MAX_INFLATE_RATIO = 200;
const MIN_INFLATE_BYTES = 64 * 1024 * 1024;

/**
 * Stands in for a line longer than the limit, which is dropped instead of buffered. It holds NUL
 * characters, which no text line of a CSV or NDJSON file does, so a row that contains it is known
 * to be the oversized one.
 */
export const LINE_OVER_LIMIT = '\u0000c360:line-over-limit\u0000';

const NEWLINE = 0x0a;
const QUOTE = 0x22;

function quotesIn(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(QUOTE); i !== -1; i = bytes.indexOf(QUOTE, i + 1)) n++;
  return n;
}

/**
 * Passes a text file through line by line, never holding more than `maxLineBytes` of one line:
 * a longer line is replaced by LINE_OVER_LIMIT, and lines that are not UTF-8 are noted (by 1-based
 * line number) for the reader to reject, since decoding would put U+FFFD in their place.
 */
export class LineGuard extends Transform {
  readonly overLimit = new Set<number>();
  readonly invalidUtf8 = new Set<number>();
  private line = 1;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private dropping = false;
  private droppedQuotes = 0;

  constructor(
    private readonly maxLineBytes: number,
    /** CSV: a dropped line with an odd number of quotes leaves the quoting unknowable, so the file cannot be read past it. */
    private readonly quoted: boolean,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl + 1;
      if (this.partialBytes === 0 && !this.dropping && nl !== -1) {
        // Whole lines inside this chunk pass as one slice, checked in one call, unless one of them is too long.
        let runEnd = end;
        let lines = 1;
        for (let next = chunk.indexOf(NEWLINE, runEnd); next !== -1 && next + 1 - runEnd <= this.maxLineBytes; next = chunk.indexOf(NEWLINE, runEnd)) {
          runEnd = next + 1;
          lines++;
        }
        if (end - start <= this.maxLineBytes) {
          this.passLines(chunk.subarray(start, runEnd), lines);
          start = runEnd;
          continue;
        }
      }
      const piece = chunk.subarray(start, end);
      if (this.dropping) {
        if (this.quoted) this.droppedQuotes += quotesIn(piece);
      } else if (this.partialBytes + piece.length - (nl === -1 ? 0 : 1) > this.maxLineBytes) {
        this.dropping = true;
        if (this.quoted) this.droppedQuotes = this.partial.reduce((n, b) => n + quotesIn(b), quotesIn(piece));
        this.partial = [];
        this.partialBytes = 0;
      } else {
        this.partial.push(piece);
        this.partialBytes += piece.length;
      }
      if (nl === -1) break;
      if (!this.endLine(true)) return done(this.quotingLost());
      start = end;
      if (start >= chunk.length) break;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if ((this.partialBytes > 0 || this.dropping) && !this.endLine(false)) return done(this.quotingLost());
    done();
  }

  private passLines(run: Buffer, lines: number): void {
    if (!isUtf8(run)) {
      let at = 0;
      for (let i = 0; i < lines; i++) {
        const nl = run.indexOf(NEWLINE, at);
        if (!isUtf8(run.subarray(at, nl + 1))) this.invalidUtf8.add(this.line + i);
        at = nl + 1;
      }
    }
    this.line += lines;
    this.push(run);
  }

  /** Ends the current line; false when a dropped line's quoting cannot be followed. */
  private endLine(newline: boolean): boolean {
    if (this.dropping) {
      this.overLimit.add(this.line);
      this.push(`${LINE_OVER_LIMIT}${newline ? '\n' : ''}`);
      this.dropping = false;
      if (this.droppedQuotes % 2 === 1) return false;
    } else {
      const bytes = this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial);
      if (!isUtf8(bytes)) this.invalidUtf8.add(this.line);
      this.push(bytes);
    }
    this.partial = [];
    this.partialBytes = 0;
    this.droppedQuotes = 0;
    this.line++;
    return true;
  }

  private quotingLost(): Error {
    return new Error(`line ${this.line - 1} is over ${this.maxLineBytes} bytes and opens a quote it may not close; the file cannot be read past it`);
  }
}

/** The file's bytes as a stream, gunzipped when it is gzip (by its magic bytes, whatever its name); read and gunzip errors surface on it. */
export function openText(file: string): { stream: Readable; bytesRead: () => number; gzip: boolean } {
  const raw = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
  let read = 0;
  raw.on('data', (chunk: string | Buffer) => (read += chunk.length));
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  const n = fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  const gzip = n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gzip) return { stream: raw, bytesRead: () => read, gzip };
  // pipeline, not pipe: a corrupt gzip must reach the reader as an error, not crash the process.
  const out = new PassThrough();
  const gunzip = zlib.createGunzip();
  // Inflation is bounded: a decompression bomb stops with an error instead of running for ever.
  const maxInflated = Math.max(MIN_INFLATE_BYTES, MAX_INFLATE_RATIO * fs.statSync(file).size);
  let inflated = 0;
  gunzip.on('data', (chunk: Buffer) => {
    inflated += chunk.length;
    if (inflated > maxInflated)
      gunzip.destroy(new Error(`it inflates to more than ${maxInflated} bytes (${MAX_INFLATE_RATIO} times its size): a decompression bomb?`));
  });
  pipeline(raw, gunzip, out, () => undefined);
  return { stream: out, bytesRead: () => read, gzip };
}
