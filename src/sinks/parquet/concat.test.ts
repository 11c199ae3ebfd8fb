// Joining Parquet files copies their row groups byte for byte: the joined file reads back every row
// of every file, in order, with the same values; files of another schema are refused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LINEAGE_FIELDS } from '../lineage-columns.js';
import { concatParquet } from './concat.js';
import { convertRow, fileSchema, ParquetFileWriter } from './parquet-file.js';
import { layerFooter, layerRows } from './read.js';

const SCHEMA = {
  type: 'record',
  name: 'Event',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 }], default: null },
    { name: 'tags', type: { type: 'array', items: 'string' } },
  ],
};
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function file(ids: string[], schema = SCHEMA): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-concat-'));
  dirs.push(dir);
  const compiled = fileSchema(schema, LINEAGE_FIELDS, {
    ids: new Map([
      ['id', 1],
      ['amount', 2],
      ['tags', 3],
      ['tags.element', 4],
    ]),
  });
  const writer = new ParquetFileWriter(path.join(dir, 'f.parquet'), compiled, [{ key: 'c360.partition', value: '0' }], 2);
  for (const [i, id] of ids.entries()) {
    const lineage = {
      _key: id,
      _received_at: Date.UTC(2026, 11, 6, 0, 0, i),
      _quality_flags: [],
      _near_duplicate: false,
      _topic: 't',
      _partition: 0,
      _offset: i,
    };
    writer.append(convertRow(compiled, { id, amount: i % 2 ? null : `${i}.50`, tags: [id, 'x'] }, lineage));
  }
  writer.close();
  return fs.readFileSync(path.join(dir, 'f.parquet'));
}

describe('concatParquet', () => {
  it('holds every row of every file, in order, with the same values and field ids', async () => {
    const parts = [file(['a', 'b', 'c']), file(['d']), file(['e', 'f', 'g', 'h', 'i'])];
    const joined = concatParquet(
      parts.map((bytes, i) => ({ bytes, where: `f${i}` })),
      new Set(['c360.partition']),
    );
    const expected = (await Promise.all(parts.map((p, i) => layerRows(p, `f${i}`)))).flat();
    expect(await layerRows(joined, 'joined')).toEqual(expected);
    expect(expected.map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
    const footer = layerFooter(joined, 'joined');
    expect(footer.num_rows).toBe(9n);
    expect(footer.row_groups).toHaveLength(2 + 1 + 3);
    expect(footer.schema.find((e) => e.name === 'tags')?.field_id).toBe(3);
    expect(footer.key_value_metadata ?? []).toEqual([]);
  });

  it('refuses files of another schema', () => {
    const other = { ...SCHEMA, fields: [...SCHEMA.fields, { name: 'extra', type: ['null', 'int'], default: null }] };
    expect(() =>
      concatParquet([
        { bytes: file(['a']), where: 'a' },
        { bytes: file(['b'], other), where: 'b' },
      ]),
    ).toThrow('b has another schema than a');
  });
});
