/** DuckDB in process, to read the raw layer the way an analyst would (read_parquet with Hive partitioning). */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export interface DuckDb {
  /** Rows as JSON values: DECIMAL and BIGINT as strings, TIMESTAMP as text in UTC, structs and lists nested, MAPs as key/value lists. */
  all(sql: string): Promise<Record<string, unknown>[]>;
  close(): void;
}

export async function openDuckDb(): Promise<DuckDb> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  return {
    all: async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[],
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

type Schema = string | Record<string, unknown> | Schema[];

/**
 * A value as DuckDB returns it (JSON) turned back into the shape avsc decodes the same field to,
 * guided by the Avro schema, so a test can compare what the raw layer holds with the topic's record.
 */
export function asAvroValue(schema: Schema, value: unknown, named = new Map<string, Record<string, unknown>>()): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(schema)) return asAvroValue(schema.find((s) => s !== 'null')!, value, named);
  if (typeof schema === 'string') {
    if (schema === 'long') return Number(value);
    if (schema === 'bytes')
      return Buffer.from(
        String(value).replace(/\\x([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
        'latin1',
      );
    const ref = named.get(schema) ?? named.get(schema.split('.').pop()!);
    return ref ? asAvroValue(ref, value, named) : value;
  }
  if (schema.logicalType === 'timestamp-millis') return Date.parse(String(value).replace(' ', 'T').replace(/\+00$/, 'Z'));
  if (schema.logicalType === 'date') return Math.round(Date.parse(`${String(value)}T00:00:00Z`) / 86_400_000);
  if (schema.logicalType === 'decimal') return String(value);
  switch (schema.type) {
    case 'record': {
      named.set(String(schema.name), schema);
      const v = value as Record<string, unknown>;
      return Object.fromEntries((schema.fields as { name: string; type: Schema }[]).map((f) => [f.name, asAvroValue(f.type, v[f.name], named)]));
    }
    case 'enum':
    case 'fixed':
      named.set(String(schema.name), schema);
      return value;
    case 'array':
      return (value as unknown[]).map((x) => asAvroValue(schema.items as Schema, x, named));
    case 'map':
      return Object.fromEntries((value as { key: string; value: unknown }[]).map((e) => [e.key, asAvroValue(schema.values as Schema, e.value, named)]));
    default:
      return asAvroValue(schema.type as Schema, value, named);
  }
}

/**
 * Which of `needles` (emails, phones, names) any column of any row of the raw layer, the
 * quarantine or the near-duplicate files under `root` holds in plain text, case-insensitively:
 * every row of each layer read by DuckDB, as an analyst would, and matched as text outside ciphertexts.
 */
export async function plainTextIn(db: DuckDb, root: string, needles: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const layer of ['raw', 'quarantine', 'near-duplicates']) {
    if (!fs.existsSync(path.join(root, layer))) continue;
    const rows = await db.all(`select * from read_parquet('${root}/${layer}/**/*.parquet', union_by_name = true)`);
    // Ciphertexts go first: base64 holds any short name somewhere by chance, and a ciphertext is not plain text.
    const text = JSON.stringify(rows)
      .replace(/c360e[12]\.[\w-]{22}\.[\w#-]+/g, '')
      .toLowerCase();
    for (const n of needles) if (text.includes(n.toLowerCase())) found.add(n);
  }
  return [...found];
}
