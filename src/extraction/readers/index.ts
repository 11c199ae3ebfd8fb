/** File formats by name; a file's format comes from --format, else from its extension (before .gz). */
import path from 'node:path';
import { ConfigError } from '../../contracts/errors.js';
import { ComponentRegistry } from '../../registry.js';
import { csvFormat } from './csv.js';
import { ndjsonFormat } from './ndjson.js';
import { parquetFormat } from './parquet.js';
import type { FormatSpec } from './reader.js';
import { tsvFormat } from './tsv.js';

export const FORMATS = new ComponentRegistry<FormatSpec>('format').register(csvFormat, tsvFormat, ndjsonFormat, parquetFormat);

/** Hidden files, markers and partial uploads (.tmp, .part, .partial, .filepart) are not data, wherever files are picked up. */
export function isDataFileName(name: string): boolean {
  return !name.startsWith('.') && !/\.(tmp|part|partial|filepart|done|reason\.txt)$/i.test(name);
}

/** The file's format: the one declared (--format), else the one registered for its extension (before .gz). */
export function formatOf(file: string, declared: string | undefined): FormatSpec {
  if (declared) return FORMATS.require(declared, '--format');
  const ext = path.extname(file.replace(/\.gz$/i, '')).toLowerCase();
  const format = FORMATS.all().find((f) => f.extensions.includes(ext));
  if (!format)
    throw new ConfigError(`${path.basename(file)}: cannot tell its format from "${ext || 'no extension'}"; pass --format ${FORMATS.names().join('|')}.`);
  return format;
}
