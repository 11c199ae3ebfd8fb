/** A file format's reader: rows as a stream, in order, each with its 1-based row number (header not counted). */
import fs from 'node:fs';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { ComponentSpec } from '../../registry.js';

export type FileRow = { row: number; line?: number; cells: Record<string, unknown> } | { row: number; line?: number; malformed: string };

export interface RowReader {
  rows(): AsyncIterable<FileRow>;
  /** Bytes of the file read so far (compressed bytes for gzip), for progress. */
  bytesRead(): number;
}

interface ReaderOptions {
  /** CSV-like formats: the cell delimiter; each format has its own default. */
  delimiter?: string;
}

/** An input format, registered by name in readers/index.ts. */
export interface FormatSpec extends ComponentSpec {
  /** File name extensions (lower case, before any .gz) that mean this format. */
  extensions: string[];
  create(file: string, options: ReaderOptions): RowReader;
}

/** The file's bytes as a stream, gunzipped when it is gzip (by its magic bytes, whatever its name); read and gunzip errors surface on it. */
export function openText(file: string): { stream: Readable; bytesRead: () => number } {
  const raw = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
  let read = 0;
  raw.on('data', (chunk: string | Buffer) => (read += chunk.length));
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  const n = fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  const gzip = n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gzip) return { stream: raw, bytesRead: () => read };
  // pipeline, not pipe: a corrupt gzip must reach the reader as an error, not crash the process.
  const out = new PassThrough();
  pipeline(raw, zlib.createGunzip(), out, () => undefined);
  return { stream: out, bytesRead: () => read };
}
