import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/errors.js';
import { FORMATS, formatOf, isDataFileName } from './index.js';
import type { FileRow } from './reader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-formats-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('input formats by name and extension', () => {
  it.each([
    ['customers.csv', 'csv'],
    ['customers.CSV', 'csv'],
    ['customers.csv.gz', 'csv'],
    ['customers.tsv', 'tsv'],
    ['customers.tab', 'tsv'],
    ['events.ndjson', 'ndjson'],
    ['events.jsonl.gz', 'ndjson'],
    ['events.json', 'ndjson'],
    ['vendor.parquet', 'parquet'],
  ])('%s is %s', (file, format) => {
    expect(formatOf(file, undefined).name).toBe(format);
  });

  it('takes a declared format over the extension', () => {
    expect(formatOf('export.txt', 'tsv').name).toBe('tsv');
  });

  it.each([
    ['export.txt', undefined, 'export.txt: cannot tell its format from ".txt"; pass --format csv|tsv|ndjson|parquet.'],
    ['export', undefined, 'export: cannot tell its format from "no extension"; pass --format csv|tsv|ndjson|parquet.'],
    ['a.csv', 'xlsx', '--format "xlsx" is not a known format (known: csv, tsv, ndjson, parquet).'],
  ])('%s with --format %s is one sentence', (file, declared, message) => {
    expect(() => formatOf(file, declared)).toThrow(new ConfigError(message));
  });

  it('reads a .tsv as tab-separated, commas kept inside cells', async () => {
    const file = path.join(dir, 'a.tsv');
    fs.writeFileSync(file, 'id\tname\n1\tLee, Ann\n');
    const rows: FileRow[] = [];
    for await (const r of FORMATS.require('tsv', 'format').create(file, { maxRowBytes: 1_048_576 }).rows()) rows.push(r);
    expect(rows).toEqual([{ row: 1, line: 2, cells: { id: '1', name: 'Lee, Ann' } }]);
  });

  it('reads a .parquet decimal as its exact text, as a contract decimal expects it', async () => {
    const file = path.join(dir, 'orders.parquet');
    fs.writeFileSync(
      file,
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'order_id', data: ['A', 'B'] },
            { name: 'total', data: [1999n, 2999n] },
          ],
          schema: [
            { name: 'root', num_children: 2 },
            { name: 'order_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
            { name: 'total', type: 'INT64', converted_type: 'DECIMAL', precision: 12, scale: 2, repetition_type: 'REQUIRED' },
          ],
        }),
      ),
    );
    const rows: FileRow[] = [];
    for await (const r of FORMATS.require('parquet', 'format').create(file, { maxRowBytes: 1_048_576 }).rows()) rows.push(r);
    expect(rows.map((r) => ('cells' in r ? r.cells : r))).toEqual([
      { order_id: 'A', total: '19.99' },
      { order_id: 'B', total: '29.99' },
    ]);
  });

  it.each([
    ['customers.csv', true],
    ['.hidden.csv', false],
    ['upload.csv.part', false],
    ['upload.csv.tmp', false],
    ['upload.csv.filepart', false],
    ['customers.csv.done', false],
    ['customers.csv.reason.txt', false],
  ])('%s is a data file: %s', (name, data) => {
    expect(isDataFileName(name)).toBe(data);
  });
});
