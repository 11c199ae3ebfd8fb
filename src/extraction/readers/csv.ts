/**
 * CSV through csv-parse, as a stream: a header row names the columns, a BOM is dropped, quoting
 * follows RFC 4180 (a stray quote inside a field is kept as text), gzip is undone first. A row
 * that does not parse or has the wrong number of cells is reported as malformed, and the file
 * goes on; an opening quote never closed swallows the rest of the file into one malformed row,
 * as no parser can tell where that field was meant to end.
 */
import { pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import type { FileRow, FormatSpec, RowReader } from './reader.js';
import { openText } from './reader.js';

interface Skipped {
  /** Records the parser had emitted (header included) when it skipped this one. */
  after: number;
  line: number;
  message: string;
}

/** Rows of a delimited text file with a header row. */
export function delimitedReader(file: string, delimiter: string): RowReader {
  const { stream, bytesRead } = openText(file);
  return {
    bytesRead,
    async *rows(): AsyncGenerator<FileRow> {
      // Skips are events, records are stream data: the parser runs ahead, so skips are put back in order by record count.
      const skipped: Skipped[] = [];
      let row = 0;
      const parser = parse({
        bom: true,
        delimiter,
        relax_column_count: true,
        relax_quotes: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        info: true,
      });
      // A read error (or a corrupt gzip) ends the parse with that error instead of leaving it unhandled.
      pipeline(stream, parser, () => undefined);
      parser.on('skip', (err: Error & { records: number; lines: number }) => skipped.push({ after: err.records, line: err.lines, message: err.message }));
      const malformedBefore = function* (records: number): Generator<FileRow> {
        while (skipped.length > 0 && skipped[0]!.after < records) {
          const s = skipped.shift()!;
          yield { row: ++row, line: s.line, malformed: s.message };
        }
      };
      let header: string[] | undefined;
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; records: number } }>) {
        if (!header) {
          header = record.map((h) => h.trim());
          continue;
        }
        yield* malformedBefore(info.records);
        row++;
        if (record.length !== header.length) {
          yield { row, line: info.lines, malformed: `${record.length} cells where the header has ${header.length}` };
          continue;
        }
        const cells: Record<string, unknown> = {};
        for (let i = 0; i < header.length; i++) cells[header[i]!] = record[i];
        yield { row, line: info.lines, cells };
      }
      yield* malformedBefore(Number.POSITIVE_INFINITY);
    },
  };
}

export const csvFormat: FormatSpec = {
  name: 'csv',
  description: 'Comma-separated values with a header row (RFC 4180 quoting, BOM, gzip). The delimiter can be changed with --delimiter or the mapping file.',
  extensions: ['.csv'],
  create: (file, options) => delimitedReader(file, options.delimiter ?? ','),
};
