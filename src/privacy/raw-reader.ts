/**
 * Reading the raw layer as those allowed to see personal data do: each row of the raw Parquet
 * files with its personal fields decrypted while its subject's key exists (null, and the row
 * marked forgotten, once it does not). `c360 raw read` and `c360 privacy export` use it; an
 * identity service can import it as it is.
 */
import { parquetReadObjects } from 'hyparquet';
import type { CompiledEntity } from '../schema/entity.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { KeyStore } from './key-store.js';
import type { RecordPrivacy } from './records.js';

const RAW_FILE = /^raw\/source=([^/]+)\/entity=([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/[^/]+\.parquet$/;

export interface RawRow {
  source: string;
  entity: string;
  date: string;
  file: string;
  /** The entity's fields (personal ones decrypted, or null when forgotten) and the lineage columns (`_key`, `_ingest_id`…). */
  record: Record<string, unknown>;
  /** Some personal value of the row belongs to a person who was forgotten. */
  forgotten: boolean;
}

export interface RawReadOptions {
  store: ObjectStore;
  keyStore: KeyStore;
  records: RecordPrivacy;
  /** Each source's entities by name, as the topology compiles them. */
  entities: (source: string, entity: string) => CompiledEntity | undefined;
  source?: string[];
  date?: string[];
  /** Only rows holding a value of one of these subjects (pseudonyms), as an export wants. */
  subjects?: ReadonlySet<string>;
}

export async function* readRawLayer(o: RawReadOptions): AsyncGenerator<RawRow> {
  const prefixes = o.source?.length ? o.source.map((s) => `raw/source=${s}/`) : ['raw/'];
  for (const prefix of prefixes) {
    for (const file of await o.store.list(prefix)) {
      const m = RAW_FILE.exec(file);
      if (!m) continue;
      const [, source, entityName, date] = m as unknown as [string, string, string, string];
      if (o.date?.length && !o.date.includes(date)) continue;
      const entity = o.entities(source, entityName);
      const bytes = await o.store.read(file);
      const rows = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer })) as Record<
        string,
        unknown
      >[];
      // One key-store round trip per file for every subject its rows need.
      const needed = entity ? [...new Set(rows.flatMap((r) => o.records.subjectsIn(entity, r)))].filter((x) => !o.subjects || o.subjects.has(x)) : [];
      const keys = await o.keyStore.existingKeys(needed);
      for (const record of rows) {
        if (o.subjects && !(entity && o.records.subjectsIn(entity, record).some((s) => o.subjects!.has(s)))) continue;
        const { forgotten } = entity ? o.records.decrypt(entity, record, keys) : { forgotten: false };
        yield { source, entity: entityName, date, file, record, forgotten };
      }
    }
  }
}

/** JSON for people and tools: 64-bit integers as numbers where they fit, dates as ISO 8601. */
export function rowJson(row: unknown): string {
  return JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v));
}
