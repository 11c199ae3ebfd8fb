/** File formats by name; a file's format comes from --format, else from its extension (before .gz). */
import path from 'node:path';
import { ConfigError } from '../../contracts/errors.js';
import { csvReader } from './csv.js';
import { ndjsonReader } from './ndjson.js';
import { parquetReader } from './parquet.js';
import type { ReaderFactory } from './reader.js';

export const FORMATS = { csv: csvReader, ndjson: ndjsonReader, parquet: parquetReader } satisfies Record<string, ReaderFactory>;
export type FileFormat = keyof typeof FORMATS;

const EXTENSIONS: Record<string, FileFormat> = { '.csv': 'csv', '.tsv': 'csv', '.ndjson': 'ndjson', '.jsonl': 'ndjson', '.json': 'ndjson', '.parquet': 'parquet' };

/** Hidden files, markers and partial uploads (.tmp, .part, .partial, .filepart) are not data, wherever files are picked up. */
export function isDataFileName(name: string): boolean {
  return !name.startsWith('.') && !/\.(tmp|part|partial|filepart|done|reason\.txt)$/i.test(name);
}

export function formatOf(file: string, declared: string | undefined): FileFormat {
  if (declared) {
    if (!(declared in FORMATS)) throw new ConfigError(`--format ${declared} is not one of ${Object.keys(FORMATS).join(', ')}.`);
    return declared as FileFormat;
  }
  const ext = path.extname(file.replace(/\.gz$/i, '')).toLowerCase();
  const format = EXTENSIONS[ext];
  if (!format) throw new ConfigError(`${path.basename(file)}: cannot tell its format from "${ext || 'no extension'}"; pass --format csv|ndjson|parquet.`);
  return format;
}
