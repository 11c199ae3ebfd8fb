/** NDJSON (one JSON object per line, plain or gzip), line by line; a line that is not a JSON object is malformed. */
import readline from 'node:readline';
import { pipeline } from 'node:stream';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../schema/json-depth.js';
import type { FileRow, FormatSpec } from './reader.js';
import { LINE_OVER_LIMIT, LineGuard, openText } from './reader.js';

export const ndjsonFormat: FormatSpec = {
  name: 'ndjson',
  description:
    'One JSON object per line (plain or gzip); a line that is not a JSON object is a malformed row, one over the record limit, not UTF-8 or nested too deep is rejected with its code.',
  extensions: ['.ndjson', '.jsonl', '.json'],
  headerRow: false,
  create: (file, { maxRowBytes }) => {
    const { stream, bytesRead } = openText(file);
    return {
      bytesRead,
      async *rows(): AsyncGenerator<FileRow> {
        const guard = new LineGuard(maxRowBytes, false);
        pipeline(stream, guard, () => undefined);
        let row = 0;
        let line = 0;
        for await (const text of readline.createInterface({ input: guard, crlfDelay: Infinity })) {
          line++;
          if (text.trim() === '') continue;
          row++;
          if (text === LINE_OVER_LIMIT) {
            yield { row, line, rejected: { code: 'size.too_large', message: `the line is over the ${maxRowBytes}-byte record limit` } };
            continue;
          }
          if (guard.invalidUtf8.has(line)) {
            yield { row, line, rejected: { code: 'decode.invalid_utf8', message: 'the line is not valid UTF-8' } };
            continue;
          }
          if (jsonTooDeep(text)) {
            yield { row, line, rejected: { code: 'decode.too_deep', message: `nested deeper than ${MAX_JSON_DEPTH} levels` } };
            continue;
          }
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch {
            yield { row, line, rejected: { code: 'mapping.malformed_row', message: 'not valid JSON' } };
            continue;
          }
          if (value === null || typeof value !== 'object' || Array.isArray(value))
            yield { row, line, rejected: { code: 'mapping.malformed_row', message: 'not a JSON object' } };
          else yield { row, line, cells: value as Record<string, unknown> };
        }
      },
    };
  },
};
