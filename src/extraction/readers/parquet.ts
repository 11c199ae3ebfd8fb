/**
 * Parquet through hyparquet, one row group at a time from a file handle, so memory is bounded by
 * the largest row group, not the file. Nested columns come back as objects and lists, decimals as
 * exact strings.
 */

import fs from 'node:fs';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { readParquetRows } from '../../schema/parquet-decimal.js';
import type { FileRow, FormatSpec } from './reader.js';

export const parquetFormat: FormatSpec = {
  name: 'parquet',
  description: 'Apache Parquet, read a row group at a time; nested columns become objects and lists, decimals exact strings.',
  extensions: ['.parquet'],
  headerRow: false,
  create: (file) => {
    let read = 0;
    return {
      bytesRead: () => read,
      async *rows(): AsyncGenerator<FileRow> {
        const buffer = await asyncBufferFromFile(file);
        const metadata = await parquetMetadataAsync(buffer);
        const total = fs.statSync(file).size;
        let start = 0;
        let row = 0;
        for (const group of metadata.row_groups) {
          const end = start + Number(group.num_rows);
          for (const cells of await readParquetRows({ file: buffer, metadata, rowStart: start, rowEnd: end })) yield { row: ++row, cells };
          read = Math.round((total * end) / Number(metadata.num_rows));
          start = end;
        }
      },
    };
  },
};
