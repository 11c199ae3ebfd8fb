/** Tab-separated values: the CSV reader with a tab as its delimiter. */
import { delimitedReader } from './csv.js';
import type { FormatSpec } from './reader.js';

export const tsvFormat: FormatSpec = {
  name: 'tsv',
  description: 'Tab-separated values with a header row (quoting as CSV, BOM, gzip).',
  extensions: ['.tsv', '.tab'],
  headerRow: true,
  create: (file, options) => delimitedReader(file, options.delimiter ?? '\t', options.maxRowBytes),
};
