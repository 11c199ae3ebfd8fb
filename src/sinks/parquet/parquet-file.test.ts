import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { transaction } from '../../../test/fixtures/records.js';
import { openDuckDb } from '../../../test/support/duckdb.js';
import { loadSchema } from '../../schema/avro.js';
import { LINEAGE_FIELDS } from '../lineage-columns.js';
import { convertRow, fileSchema, ParquetFileWriter } from './parquet-file.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-parquet-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const lineage = (offset: number) => ({
  _key: `k-${offset}`,
  _ingest_id: `i-${offset}`,
  _source: 'commerce',
  _source_kind: 'batch',
  _received_at: Date.UTC(2026, 10, 27, 9),
  _origin: '{"file":"a.csv","row":2}',
  _quality_flags: offset === 1 ? ['quality.region_mismatch'] : [],
  _near_duplicate: false,
  _topic: 'c360.raw.commerce',
  _partition: 0,
  _offset: offset,
});

describe('Parquet files from Avro records', () => {
  it('keeps nested records, lists, maps, decimals, dates and timestamps readable by DuckDB', async () => {
    const { schema, type } = loadSchema('Transaction');
    // Decoded as the sink decodes: avsc values from Avro bytes.
    const value = type.fromBuffer(
      type.toBuffer({
        ...transaction,
        occurred_at: Date.UTC(2026, 10, 21, 12),
        line_items: transaction.line_items.map((l) => ({ ...l, unit_price: String(l.unit_price) })),
      }),
    );
    const file = path.join(dir, 'tx.parquet');
    const columns = fileSchema(schema, LINEAGE_FIELDS);
    const writer = new ParquetFileWriter(file, columns, [{ key: 'c360.avro.schema', value: JSON.stringify(schema) }], 2);
    for (let i = 0; i < 5; i++) writer.append(convertRow(columns, { ...value, transaction_id: `T-${i}` }, lineage(i)));
    const closed = writer.close();
    expect(closed.rows).toBe(5);
    expect(closed.sha256).toMatch(/^[0-9a-f]{64}$/);

    const db = await openDuckDb();
    try {
      const rows = await db.all(
        `select transaction_id, total_amount, line_items, occurred_at, status, _quality_flags, _offset, typeof(total_amount) as t, typeof(occurred_at) as ts, typeof(line_items) as li from read_parquet('${file}') order by _offset`,
      );
      expect(rows).toHaveLength(5);
      expect(rows[1]).toMatchObject({
        transaction_id: 'T-1',
        total_amount: '59.90',
        status: 'COMPLETED',
        _quality_flags: ['quality.region_mismatch'],
        _offset: '1',
        t: 'DECIMAL(12,2)',
        ts: 'TIMESTAMP WITH TIME ZONE',
        li: 'STRUCT(sku VARCHAR, product_name VARCHAR, category VARCHAR, quantity INTEGER, unit_price DECIMAL(12,2))[]',
      });
      expect(rows[1]!.line_items).toEqual([
        { sku: 'SKU-1', product_name: 'Scarf', category: 'accessories', quantity: 1, unit_price: '19.90' },
        { sku: 'SKU-2', product_name: 'Hat', category: 'accessories', quantity: 2, unit_price: '20.00' },
      ]);
      const meta = await db.all(`select decode(value) as v from parquet_kv_metadata('${file}') where decode(key) = 'c360.avro.schema'`);
      expect(JSON.parse(String(meta[0]!.v))).toEqual(schema);
    } finally {
      db.close();
    }
  });

  it('writes a map of bytes and optional nested records (dead-letter records)', async () => {
    const { schema, type } = loadSchema('DeadLetter');
    const record = {
      errors: [{ code: 'quality.email_invalid', field: 'email', message: 'not an email address' }],
      stage: 'quality',
      source: 'crm',
      entity: 'CustomerProfile',
      original_key: Buffer.from('C-1'),
      original_value: Buffer.from('{"a":1}'),
      original_headers: { 'c360.source': Buffer.from('crm') },
      origin_topic: 'c360.ingest.crm',
      origin_partition: 2,
      origin_offset: 41,
      lineage: { ingest_id: 'i-1', source: 'crm', source_kind: 'batch', received_at: Date.UTC(2026, 10, 27), origin: '{}' },
      failed_at: Date.UTC(2026, 10, 27, 1),
      processor_version: 'c360-ingest/0.1.0',
    };
    const file = path.join(dir, 'dl.parquet');
    const columns = fileSchema(schema, LINEAGE_FIELDS);
    const writer = new ParquetFileWriter(file, columns, [], 100);
    writer.append(convertRow(columns, type.fromBuffer(type.toBuffer(record)) as Record<string, unknown>, lineage(7)));
    writer.close();
    const db = await openDuckDb();
    try {
      const [row] = await db.all(
        `select errors, decode(original_value) as v, original_headers['c360.source'] as h, lineage.source_kind as kind, origin_offset from read_parquet('${file}')`,
      );
      expect(row).toEqual({
        errors: [{ code: 'quality.email_invalid', field: 'email', message: 'not an email address' }],
        v: '{"a":1}',
        h: 'crm',
        kind: 'batch',
        origin_offset: '41',
      });
    } finally {
      db.close();
    }
  });

  it('names the field when an entity would shadow a lineage column', () => {
    expect(() => fileSchema({ type: 'record', name: 'Odd', fields: [{ name: '_offset', type: 'long' }] }, LINEAGE_FIELDS)).toThrow(
      'Avro record Odd has a field named _offset, which the raw layer reserves for lineage.',
    );
  });
});
