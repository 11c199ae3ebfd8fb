/**
 * Parquet through hyparquet, one row group at a time from a file handle, so memory is bounded by
 * the largest row group, not the file. Nested columns come back as objects and lists, decimals as
 * exact strings.
 */

import fs from 'node:fs';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { exactDecimals } from '../../schema/parquet-decimal.js';
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
        const decimals = exactDecimals(metadata);
        const total = fs.statSync(file).size;
        let start = 0;
        let row = 0;
        for (const group of metadata.row_groups) {
          const end = start + Number(group.num_rows);
          const objects = (await parquetReadObjects({
            file: buffer,
            metadata: decimals?.metadata ?? metadata,
            ...(decimals && { parsers: decimals.parsers }),
            rowStart: start,
            rowEnd: end,
          })) as Record<string, unknown>[];
          for (const cells of objects) yield { row: ++row, cells: decimals ? decimals.fix(cells) : cells };
          read = Math.round((total * end) / Number(metadata.num_rows));
          start = end;
        }
      },
    };
  },
};
