import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { delimitedReader } from './csv.js';
import type { FileRow } from './reader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-csv-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function read(content: string | Buffer, delimiter?: string): Promise<FileRow[]> {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.csv`);
  fs.writeFileSync(file, content);
  const rows: FileRow[] = [];
  for await (const r of delimitedReader(file, delimiter ?? ',').rows()) rows.push(r);
  return rows;
}

describe('CSV reader', () => {
  it('numbers data rows in order, malformed ones included, and keeps going', async () => {
    const rows = await read('\ufeffid,name\n1,"Ann ""A"" Lee"\n2,"two\nlines"\n3,a,b\n4,o"brien\n5,ok\n');
    expect(rows).toEqual([
      { row: 1, line: 2, cells: { id: '1', name: 'Ann "A" Lee' } },
      { row: 2, line: 4, cells: { id: '2', name: 'two\nlines' } },
      { row: 3, line: 5, malformed: '3 cells where the header has 2' },
      { row: 4, line: 6, cells: { id: '4', name: 'o"brien' } },
      { row: 5, line: 7, cells: { id: '5', name: 'ok' } },
    ]);
  });

  it('reports a quote never closed as one malformed row after the good ones', async () => {
    const rows = await read('id,name\n1,a\n2,"open\n3,c\n');
    expect(rows.map((r) => ('malformed' in r ? [r.row, 'malformed'] : [r.row, r.cells.id]))).toEqual([
      [1, '1'],
      [2, 'malformed'],
    ]);
  });

  it('reads another delimiter and gzip', async () => {
    expect(await read(zlib.gzipSync('id;name\n1;x\n'), ';')).toEqual([{ row: 1, line: 2, cells: { id: '1', name: 'x' } }]);
  });
});
