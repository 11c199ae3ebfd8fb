/** DuckDB in process, to read the raw layer the way an analyst would (read_parquet with Hive partitioning). */
import { DuckDBInstance } from '@duckdb/node-api';

export interface DuckDb {
  /** Rows as JSON values: DECIMAL and BIGINT as strings, TIMESTAMP as ISO-like text, structs and lists nested. */
  all(sql: string): Promise<Record<string, unknown>[]>;
  close(): void;
}

export async function openDuckDb(): Promise<DuckDb> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  return {
    all: async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[],
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}
