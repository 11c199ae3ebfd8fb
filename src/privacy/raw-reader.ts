/**
 * Reading the raw layer as those allowed to see personal data do: each row of the raw Parquet
 * files with its personal fields decrypted while its subject's key exists (null, and the row
 * marked forgotten, once it does not). `c360 raw read` and `c360 privacy export` use it; an
 * identity service can import it as it is.
 */
import type { Config } from '../config.js';
import type { Topology } from '../contracts/topology-definition.js';
import { type CompiledEntity, compileEntities } from '../schema/entity.js';
import { layerRows } from '../sinks/parquet/read.js';
import { openObjectStore } from '../storage/backends.js';
import type { ObjectStore } from '../storage/object-store.js';
import { type KeyStore, openKeyStore } from './key-store.js';
import { pseudonymsFrom } from './pseudonyms.js';
import { RecordPrivacy } from './records.js';

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

/** The raw layer as a reader with the right to decrypt sees it: its storage, the keys, and the entities its folders name. */
export interface RawLayer {
  store: ObjectStore;
  keyStore: KeyStore;
  records: RecordPrivacy;
  entity(source: string, entity: string): CompiledEntity | undefined;
  close(): Promise<void>;
}

/** The raw layer of `config`'s storage, read with the topology's entities and the namespace's keys. */
export function openRawLayer(config: Config, topology: Topology, needer: string): RawLayer {
  const records = new RecordPrivacy(pseudonymsFrom(config, needer));
  const keyStore = openKeyStore(config, topology.namespace);
  const store = openObjectStore(config);
  const entities = new Map(topology.sources.flatMap(compileEntities).map((e) => [`${e.source}/${e.name}`, e]));
  return {
    store,
    keyStore,
    records,
    entity: (source, entity) => entities.get(`${source}/${entity}`),
    close: async () => {
      store.close();
      await keyStore.close();
    },
  };
}

export interface RawFilter {
  source?: string[];
  date?: string[];
  /** Only rows holding a value of one of these subjects (pseudonyms), as an export wants. */
  subjects?: ReadonlySet<string>;
}

export async function* readRawLayer(layer: RawLayer, filter: RawFilter = {}): AsyncGenerator<RawRow> {
  const { store, keyStore, records } = layer;
  const prefixes = filter.source?.length ? filter.source.map((s) => `raw/source=${s}/`) : ['raw/'];
  for (const prefix of prefixes) {
    for (const file of await store.list(prefix)) {
      const m = RAW_FILE.exec(file);
      if (!m) continue;
      const [, source, entityName, date] = m as unknown as [string, string, string, string];
      if (filter.date?.length && !filter.date.includes(date)) continue;
      const entity = layer.entity(source, entityName);
      const bytes = await store.read(file);
      const rows = await layerRows(bytes, store.locate(file));
      // A row names its person in `_subject`; rows landed before that column existed name them only in their ciphertext.
      const subjectsOf = rows.map((r) => {
        const sealed = entity ? records.subjectsIn(entity, r) : [];
        return typeof r._subject === 'string' ? [r._subject, ...sealed] : sealed;
      });
      // One key-store round trip per file for every subject its rows need (only the exported person's, for an export).
      const needed = [...new Set(subjectsOf.flat())].filter((x) => !filter.subjects || filter.subjects.has(x));
      const keys = await keyStore.existingKeys(needed);
      for (const [i, record] of rows.entries()) {
        if (filter.subjects && !subjectsOf[i]!.some((s) => filter.subjects!.has(s))) continue;
        const { forgotten } = entity ? records.decrypt(entity, record, keys) : { forgotten: false };
        yield { source, entity: entityName, date, file, record, forgotten };
      }
    }
  }
}

/**
 * The near-duplicate events about these people: those whose new record is theirs (its `_subject`),
 * and those whose earlier, matched record is one of theirs (by its ingest id). They hold no personal value.
 */
export async function* readNearDuplicates(
  store: ObjectStore,
  subjects: ReadonlySet<string>,
  ingestIds: ReadonlySet<string>,
): AsyncGenerator<Record<string, unknown>> {
  for (const file of await store.list('near-duplicates/')) {
    if (!file.endsWith('.parquet') || file.includes('/_manifest/')) continue;
    for (const row of await layerRows(await store.read(file), store.locate(file))) {
      const matched = (row.matched as { ingest_id?: unknown } | null)?.ingest_id;
      if ((typeof row._subject === 'string' && subjects.has(row._subject)) || (typeof matched === 'string' && ingestIds.has(matched))) yield row;
    }
  }
}

/** JSON for people and tools: 64-bit integers as numbers where they fit, dates as ISO 8601. */
export function rowJson(row: unknown): string {
  return JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v));
}
