/**
 * CSV through csv-parse, as a stream: a header row names the columns, a BOM is dropped, quoting
 * follows RFC 4180 (a stray quote inside a field is kept as text), gzip is undone first. A row
 * that does not parse or has the wrong number of cells is reported as malformed, a line over the
 * record limit or a row that is not UTF-8 is rejected with its code, and the file goes on. An
 * opening quote never closed swallows what follows into one row; past a few rows' worth of bytes
 * the file is refused from there, as no parser can tell where that field was meant to end.
 */
import { pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import type { FileRow, FormatSpec, RowReader } from './reader.js';
import { LINE_OVER_LIMIT, LineGuard, openText } from './reader.js';

interface Skipped {
  /** Records the parser had emitted (header included) when it skipped this one. */
  after: number;
  line: number;
  message: string;
}

/** How far a quoted field may run over lines before the parser gives up on the file: several rows' worth. */
const QUOTED_RUN_ROWS = 4;

/** Rows of a delimited text file with a header row. */
export function delimitedReader(file: string, delimiter: string, maxRowBytes: number): RowReader {
  const { stream, bytesRead } = openText(file);
  return {
    bytesRead,
    async *rows(): AsyncGenerator<FileRow> {
      // Skips are events, records are stream data: the parser runs ahead, so skips are put back in order by record count.
      const skipped: Skipped[] = [];
      let row = 0;
      const guard = new LineGuard(maxRowBytes, true);
      const parser = parse({
        bom: true,
        delimiter,
        relax_column_count: true,
        relax_quotes: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        max_record_size: QUOTED_RUN_ROWS * maxRowBytes,
        info: true,
      });
      // A read error (or a corrupt gzip) ends the parse with that error instead of leaving it unhandled.
      pipeline(stream, guard, parser, () => undefined);
      let runaway: Skipped | undefined;
      parser.on('skip', (err: Error & { code: string; records: number; lines: number }) => {
        const skip = { after: err.records, line: err.lines, message: err.message };
        // The parser stops at a record over max_record_size (a quote never closed): the file ends there.
        if (err.code === 'CSV_MAX_RECORD_SIZE') runaway = skip;
        else skipped.push(skip);
      });
      const malformedBefore = function* (records: number): Generator<FileRow> {
        while (skipped.length > 0 && skipped[0]!.after < records) {
          const s = skipped.shift()!;
          yield { row: ++row, line: s.line, rejected: { code: 'mapping.malformed_row', message: s.message } };
        }
      };
      let header: string[] | undefined;
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; records: number } }>) {
        // The lines up to this record's last that were not UTF-8 are its own; taken out, so each is looked at once.
        let invalid = false;
        for (const l of guard.invalidUtf8) {
          if (l > info.lines) continue;
          invalid = true;
          guard.invalidUtf8.delete(l);
        }
        if (!header) {
          header = record.map((h) => h.trim());
          continue;
        }
        yield* malformedBefore(info.records);
        row++;
        if (record.some((cell) => cell.includes(LINE_OVER_LIMIT))) {
          yield { row, line: info.lines, rejected: { code: 'size.too_large', message: `a line of the row is over the ${maxRowBytes}-byte record limit` } };
          continue;
        }
        // Decoding put U+FFFD where the bytes were not UTF-8: the row is refused rather than changed.
        if (invalid && record.some((cell) => cell.includes('\uFFFD'))) {
          yield { row, line: info.lines, rejected: { code: 'decode.invalid_utf8', message: 'the row is not valid UTF-8' } };
          continue;
        }
        if (record.length !== header.length) {
          yield { row, line: info.lines, rejected: { code: 'mapping.malformed_row', message: `${record.length} cells where the header has ${header.length}` } };
          continue;
        }
        // No prototype: a column named __proto__ is a column like any other.
        const cells: Record<string, unknown> = Object.create(null);
        for (let i = 0; i < header.length; i++) cells[header[i]!] = record[i];
        yield { row, line: info.lines, cells };
      }
      yield* malformedBefore(Number.POSITIVE_INFINITY);
      if (runaway) {
        yield {
          row: ++row,
          line: runaway.line,
          rejected: { code: 'size.too_large', message: `a quoted field runs on past ${QUOTED_RUN_ROWS * maxRowBytes} bytes` },
        };
        throw new Error(
          `the quoted field of row ${row} (line ${runaway.line}) never closes within ${QUOTED_RUN_ROWS * maxRowBytes} bytes; the file cannot be read past it`,
        );
      }
    },
  };
}

export const csvFormat: FormatSpec = {
  name: 'csv',
  description: 'Comma-separated values with a header row (RFC 4180 quoting, BOM, gzip). The delimiter can be changed with --delimiter or the mapping file.',
  extensions: ['.csv'],
  headerRow: true,
  create: (file, options) => delimitedReader(file, options.delimiter ?? ',', options.maxRowBytes),
};
