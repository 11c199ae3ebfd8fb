import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { delimitedReader } from './csv.js';
import type { FileRow } from './reader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-csv-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function read(content: string | Buffer, delimiter?: string, maxRowBytes = 1_048_576): Promise<FileRow[]> {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.csv`);
  fs.writeFileSync(file, content);
  const rows: FileRow[] = [];
  for await (const r of delimitedReader(file, delimiter ?? ',', maxRowBytes).rows()) rows.push(r);
  return rows;
}

describe('CSV reader', () => {
  it('numbers data rows in order, malformed ones included, and keeps going', async () => {
    const rows = await read('\ufeffid,name\n1,"Ann ""A"" Lee"\n2,"two\nlines"\n3,a,b\n4,o"brien\n5,ok\n');
    expect(rows).toEqual([
      { row: 1, line: 2, cells: { id: '1', name: 'Ann "A" Lee' } },
      { row: 2, line: 4, cells: { id: '2', name: 'two\nlines' } },
      { row: 3, line: 5, rejected: { code: 'mapping.malformed_row', message: '3 cells where the header has 2' } },
      { row: 4, line: 6, cells: { id: '4', name: 'o"brien' } },
      { row: 5, line: 7, cells: { id: '5', name: 'ok' } },
    ]);
  });

  it('reports a quote never closed as one malformed row after the good ones', async () => {
    const rows = await read('id,name\n1,a\n2,"open\n3,c\n');
    expect(rows.map((r) => ('rejected' in r ? [r.row, r.rejected.code] : [r.row, r.cells.id]))).toEqual([
      [1, '1'],
      [2, 'mapping.malformed_row'],
    ]);
  });

  it('rejects a row over the record limit without holding it, and goes on', async () => {
    const rows = await read(`id,name\n1,a\n2,${'x'.repeat(5000)}\n3,"${'y'.repeat(3000)}"\n4,d\n`, ',', 1000);
    expect(rows.map((r) => ('rejected' in r ? [r.row, r.rejected.code] : [r.row, r.cells.id]))).toEqual([
      [1, '1'],
      [2, 'size.too_large'],
      [3, 'size.too_large'],
      [4, '4'],
    ]);
  });

  it('rejects a row that is not UTF-8 instead of reading U+FFFD into it, and keeps a real U+FFFD', async () => {
    const rows = await read(Buffer.concat([Buffer.from('id,name\n1,caf'), Buffer.from([0xe9]), Buffer.from('\n2,a\uFFFDb\n3,c\n')]));
    expect(rows.map((r) => ('rejected' in r ? [r.row, r.rejected.code] : [r.row, r.cells.name]))).toEqual([
      [1, 'decode.invalid_utf8'],
      [2, 'a\uFFFDb'],
      [3, 'c'],
    ]);
  });

  it('keeps a column named __proto__ as a column', async () => {
    const [row] = await read('id,__proto__\n1,x\n');
    expect(row && 'cells' in row && Object.entries(row.cells)).toEqual([
      ['id', '1'],
      ['__proto__', 'x'],
    ]);
  });

  it('stops a decompression bomb with an error instead of inflating it', async () => {
    const bomb = zlib.gzipSync(Buffer.concat([Buffer.from('id,name\n'), Buffer.alloc(80 * 1024 * 1024)]));
    await expect(read(bomb)).rejects.toThrow(/inflates to more than/);
  });

  it('reads another delimiter and gzip', async () => {
    expect(await read(zlib.gzipSync('id;name\n1;x\n'), ';')).toEqual([{ row: 1, line: 2, cells: { id: '1', name: 'x' } }]);
  });
});
