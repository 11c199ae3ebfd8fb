/** NDJSON (one JSON object per line, plain or gzip), line by line; a line that is not a JSON object is malformed. */
import readline from 'node:readline';
import type { FileRow, FormatSpec } from './reader.js';
import { openText } from './reader.js';

export const ndjsonFormat: FormatSpec = {
  name: 'ndjson',
  description: 'One JSON object per line (plain or gzip); a line that is not a JSON object is a malformed row.',
  extensions: ['.ndjson', '.jsonl', '.json'],
  create: (file) => {
    const { stream, bytesRead } = openText(file);
    return {
      bytesRead,
      async *rows(): AsyncGenerator<FileRow> {
        let row = 0;
        let line = 0;
        for await (const text of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
          line++;
          if (text.trim() === '') continue;
          row++;
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch {
            yield { row, line, malformed: 'not valid JSON' };
            continue;
          }
          if (value === null || typeof value !== 'object' || Array.isArray(value)) yield { row, line, malformed: 'not a JSON object' };
          else yield { row, line, cells: value as Record<string, unknown> };
        }
      },
    };
  },
};
