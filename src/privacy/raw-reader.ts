/**
 * Reading the raw layer as those allowed to see personal data do: each row of the raw Parquet
 * files with its personal fields decrypted while its subject's key exists (null, and the row
 * marked forgotten, once it does not). `c360 raw read` and `c360 privacy export` use it; an
 * identity service can import it as it is.
 */
import type { Config } from '../config.js';
import type { Topology } from '../contracts/topology-definition.js';
import { type CompiledEntity, compileEntities } from '../schema/entity.js';
import { type LayerFiles, openLayerFiles, type TableAt } from '../sinks/layer-files.js';
import { layerRows } from '../sinks/parquet/read.js';
import type { ObjectStore } from '../storage/object-store.js';
import { type KeyStore, openKeyStore } from './key-store.js';
import { pseudonymsFrom } from './pseudonyms.js';
import { RecordPrivacy } from './records.js';

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
  /** The layer's files (folders or a table snapshot), and C360_STORAGE_URL's store (the access log). */
  files: LayerFiles;
  store: ObjectStore;
  keyStore: KeyStore;
  records: RecordPrivacy;
  entity(source: string, entity: string): CompiledEntity | undefined;
  close(): Promise<void>;
}

/** The raw layer of `config`'s storage (or tables, at `at`), read with the topology's entities and the namespace's keys. */
export function openRawLayer(config: Config, topology: Topology, needer: string, at: TableAt = {}): RawLayer {
  const records = new RecordPrivacy(pseudonymsFrom(config, needer));
  const keyStore = openKeyStore(config, topology.namespace);
  const files = openLayerFiles(config, topology, at);
  const store = files.store;
  const entities = new Map(topology.sources.flatMap(compileEntities).map((e) => [`${e.source}/${e.name}`, e]));
  return {
    files,
    store,
    keyStore,
    records,
    entity: (source, entity) => entities.get(`${source}/${entity}`),
    close: async () => {
      files.close();
      await keyStore.close();
    },
  };
}

export interface RawFilter {
  source?: string[];
  date?: string[];
  /** Only ingest days from `firstDay` to `lastDay`, both included (YYYY-MM-DD). */
  firstDay?: string;
  lastDay?: string;
  /** Only rows holding a value of one of these subjects (pseudonyms), as an export wants. */
  subjects?: ReadonlySet<string>;
}

export async function* readRawLayer(layer: RawLayer, filter: RawFilter = {}): AsyncGenerator<RawRow> {
  const { keyStore, records } = layer;
  for await (const f of layer.files.files('raw', { source: filter.source, date: filter.date })) {
    const { source, date, where: file } = f;
    if ((filter.firstDay && date < filter.firstDay) || (filter.lastDay && date > filter.lastDay)) continue;
    const entityName = f.entity!;
    const entity = layer.entity(source, entityName);
    const rows = await layerRows(await f.read(), file);
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

/**
 * The near-duplicate events about these people: those whose new record is theirs (its `_subject`),
 * and those whose earlier, matched record is one of theirs (by its ingest id). They hold no personal value.
 */
export async function* readNearDuplicates(
  files: LayerFiles,
  subjects: ReadonlySet<string>,
  ingestIds: ReadonlySet<string>,
): AsyncGenerator<Record<string, unknown>> {
  for await (const file of files.files('near-duplicates')) {
    for (const row of await layerRows(await file.read(), file.where)) {
      const matched = (row.matched as { ingest_id?: unknown } | null)?.ingest_id;
      if ((typeof row._subject === 'string' && subjects.has(row._subject)) || (typeof matched === 'string' && ingestIds.has(matched))) yield row;
    }
  }
}

/** JSON for people and tools: 64-bit integers as numbers where they fit, dates as ISO 8601. */
export function rowJson(row: unknown): string {
  return JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v));
}
