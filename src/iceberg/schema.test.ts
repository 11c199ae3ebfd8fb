// Table schemas from Avro contracts: ids assigned once and kept by path, new columns evolving the
// table, widening allowed, other type changes refused in one sentence.
import { describe, expect, it } from 'vitest';
import { SchemaError } from '../contracts/errors.js';
import { fitSchema } from './schema.js';
import type { TableSchema } from './table-metadata.js';

const contract = {
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'count', type: 'int' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'total', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } },
    { name: 'lines', type: { type: 'array', items: { type: 'record', name: 'Line', fields: [{ name: 'sku', type: 'string' }] } } },
    { name: 'tags', type: ['null', { type: 'map', values: 'long' }], default: null },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
  ],
};
const lineage = [{ name: '_offset', type: 'long' }];

describe('fitSchema', () => {
  it('numbers a new table depth-first, every column optional, with Iceberg types', () => {
    const fit = fitSchema(contract, lineage, undefined, 0);
    expect(fit.evolves).toBe(true);
    expect(Object.fromEntries(fit.ids)).toEqual({
      id: 1,
      count: 2,
      at: 3,
      total: 4,
      lines: 5,
      'lines.element': 6,
      'lines.element.sku': 7,
      tags: 8,
      'tags.key': 9,
      'tags.value': 10,
      kind: 11,
      _offset: 12,
    });
    expect(fit.lastColumnId).toBe(12);
    expect(fit.schema.fields.map((f) => [f.name, f.type, f.required])).toEqual([
      ['id', 'string', false],
      ['count', 'int', false],
      ['at', 'timestamptz', false],
      ['total', 'decimal(12, 2)', false],
      [
        'lines',
        {
          type: 'list',
          'element-id': 6,
          element: { type: 'struct', fields: [{ id: 7, name: 'sku', required: false, type: 'string' }] },
          'element-required': false,
        },
        false,
      ],
      ['tags', { type: 'map', 'key-id': 9, key: 'string', 'value-id': 10, value: 'long', 'value-required': false }, false],
      ['kind', 'string', false],
      ['_offset', 'long', false],
    ]);
  });

  it("keeps the table's ids, adds a new column after its last id, and keeps a dropped one", () => {
    const first = fitSchema(contract, lineage, undefined, 0);
    const table: TableSchema = { ...first.schema, 'schema-id': 0 };
    // The table's own numbering, as a catalog may assign it: ids are read back, never recomputed.
    for (const f of table.fields) f.id += 100;
    const same = fitSchema(contract, lineage, table, 112);
    expect(same.evolves).toBe(false);
    expect(same.ids.get('id')).toBe(101);
    const changed = { ...contract, fields: [...contract.fields.filter((f) => f.name !== 'kind'), { name: 'store', type: ['null', 'string'], default: null }] };
    const next = fitSchema(changed, lineage, table, 112);
    expect(next.evolves).toBe(true);
    expect(next.ids.get('store')).toBe(113);
    expect(next.lastColumnId).toBe(113);
    expect(next.schema.fields.map((f) => f.name)).toEqual(['id', 'count', 'at', 'total', 'lines', 'tags', 'store', '_offset', 'kind']);
  });

  it('widens int to long, reads an int writer into a long column, and refuses other changes', () => {
    const table: TableSchema = { ...fitSchema(contract, lineage, undefined, 0).schema, 'schema-id': 0 };
    const widened = fitSchema({ ...contract, fields: contract.fields.map((f) => (f.name === 'count' ? { ...f, type: 'long' } : f)) }, lineage, table, 12);
    expect(widened.evolves).toBe(true);
    expect(widened.schema.fields.find((f) => f.name === 'count')!.type).toBe('long');
    const longTable: TableSchema = { ...widened.schema, 'schema-id': 1 };
    expect(fitSchema(contract, lineage, longTable, 12).evolves).toBe(false);
    expect(() => fitSchema({ ...contract, fields: contract.fields.map((f) => (f.name === 'id' ? { ...f, type: 'int' } : f)) }, lineage, table, 12)).toThrow(
      new SchemaError('column id is string in the table and int in the contract; Iceberg cannot change it in place.'),
    );
    expect(() =>
      fitSchema({ ...contract, fields: contract.fields.map((f) => (f.name === 'lines' ? { ...f, type: 'string' } : f)) }, lineage, table, 12),
    ).toThrow(SchemaError);
  });
});
