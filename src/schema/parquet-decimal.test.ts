import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import { openDuckDb } from '../../test/support/duckdb.js';
import { layerRows } from '../sinks/parquet/read.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-decimal-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const UUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('Parquet DECIMAL read exactly', () => {
  it('reads every physical type of a decimal as its exact text, a UUID beside one as its text', async () => {
    const unscaled = [1999n, -1n, 0n, null, 115n];
    const column = (name: string, type: 'INT32' | 'INT64' | 'FIXED_LEN_BYTE_ARRAY' | 'BYTE_ARRAY', precision: number) => ({
      element: {
        name,
        type,
        repetition_type: 'OPTIONAL' as const,
        converted_type: 'DECIMAL' as const,
        precision,
        scale: 2,
        ...(type === 'FIXED_LEN_BYTE_ARRAY' ? { type_length: 16 } : {}),
      },
      data: unscaled,
    });
    const columns = [column('i32', 'INT32', 9), column('i64', 'INT64', 18), column('fixed', 'FIXED_LEN_BYTE_ARRAY', 38), column('bytes', 'BYTE_ARRAY', 20)];
    const bytes = parquetWriteBuffer({
      columnData: [
        ...columns.map((c) => ({ name: c.element.name, data: c.data })),
        { name: 'id', data: [UUID, UUID, null, UUID, UUID] },
        { name: 'big', data: [123456789012345678901234567891n, -99999999999999999999999999999999999999n, null, 1n, 0n] },
      ],
      schema: [
        { name: 'root', num_children: columns.length + 2 },
        ...columns.map((c) => c.element),
        { name: 'id', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, repetition_type: 'OPTIONAL', logical_type: { type: 'UUID' } },
        { name: 'big', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, repetition_type: 'OPTIONAL', converted_type: 'DECIMAL', precision: 38, scale: 10 },
      ],
    });
    const rows = await layerRows(Buffer.from(bytes), 'decimals.parquet');
    const expected = ['19.99', '-0.01', '0.00', null, '1.15'];
    for (const name of ['i32', 'i64', 'fixed', 'bytes']) expect(rows.map((r) => r[name])).toEqual(expected);
    expect(rows.map((r) => r.id)).toEqual([UUID, UUID, null, UUID, UUID]);
    expect(rows.map((r) => r.big)).toEqual([
      '12345678901234567890.1234567891',
      '-9999999999999999999999999999.9999999999',
      null,
      '0.0000000001',
      '0.0000000000',
    ]);
  });

  it('reads decimals nested in lists, structs and maps, as DuckDB writes them', async () => {
    const file = path.join(dir, 'nested.parquet');
    const db = await openDuckDb();
    try {
      await db.all(`copy (
        select 1 as n,
          [{'sku': 'A', 'unit_price': 19.99::decimal(12,2)}, {'sku': 'B', 'unit_price': null}] as items,
          {'total': 29.99::decimal(4,2), 'tax': 123456789012345678.91::decimal(38,2)} as totals,
          map {'eur': 0.10::decimal(18,2), 'usd': 1.15::decimal(18,2)} as rates,
          [[0.3::decimal(9,1)], []] as nested_lists
        union all select 2, [], null, map {}, null
      ) to '${file}' (format parquet)`);
    } finally {
      db.close();
    }
    const rows = await layerRows(fs.readFileSync(file), 'nested.parquet');
    rows.sort((a, b) => Number(a.n) - Number(b.n));
    expect(rows[0]).toMatchObject({
      items: [
        { sku: 'A', unit_price: '19.99' },
        { sku: 'B', unit_price: null },
      ],
      totals: { total: '29.99', tax: '123456789012345678.91' },
      rates: { eur: '0.10', usd: '1.15' },
      nested_lists: [['0.3'], []],
    });
    expect(rows[1]).toMatchObject({ items: [], rates: {} });
    expect(rows[1]!.totals ?? null).toBeNull();
  });
});
