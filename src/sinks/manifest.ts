/**
 * Each folder of the raw layer has a manifest: one entry per data file (in `_manifest/`, written
 * once, create-only like the files), with its offsets, row count, sha256 and write time. Together
 * they make a day's data auditable: `verifyFolder` re-hashes every file and checks that the
 * entries of each partition cover its offsets without overlap.
 */
import { createHash } from 'node:crypto';
import { PROCESSOR_VERSION } from '../contracts/project.js';
import type { ObjectStore } from '../storage/object-store.js';
import { parseFileName } from './layout.js';
import { layerFooter } from './parquet/read.js';

export interface ManifestEntry {
  file: string;
  topic: string;
  partition: number;
  first_offset: number;
  last_offset: number;
  rows: number;
  bytes: number;
  sha256: string;
  schema_id: number;
  /** Record times (c360.received_at) of the file's rows; null when rebuilt from a file alone. */
  min_received_at: string | null;
  max_received_at: string | null;
  written_at: string;
  writer: string;
}

/** An entry rebuilt from a published file, for a file whose worker crashed before writing its entry. */
export async function manifestEntryFromFile(store: ObjectStore, key: string): Promise<ManifestEntry> {
  const bytes = await store.read(key);
  const id = parseFileName(key)!;
  const meta = layerFooter(bytes, store.locate(key));
  const kv = new Map((meta.key_value_metadata ?? []).map((e) => [e.key, e.value]));
  return {
    file: key.slice(key.lastIndexOf('/') + 1),
    topic: id.topic,
    partition: id.partition,
    first_offset: id.firstOffset,
    last_offset: id.lastOffset,
    rows: Number(meta.num_rows),
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    schema_id: Number(kv.get('c360.avro.schema_id') ?? -1),
    min_received_at: null,
    max_received_at: null,
    written_at: new Date().toISOString(),
    writer: PROCESSOR_VERSION,
  };
}

async function readManifest(store: ObjectStore, folder: string): Promise<ManifestEntry[]> {
  const keys = (await store.list(`${folder}/_manifest/`)).filter((k) => k.endsWith('.json'));
  return Promise.all(keys.map(async (k) => JSON.parse((await store.read(k)).toString('utf8')) as ManifestEntry));
}

export interface FolderCheck {
  folder: string;
  files: number;
  rows: number;
  problems: string[];
}

/** Re-hashes every file of a folder against its entry and checks entries and files match one to one. */
export async function verifyFolder(store: ObjectStore, folder: string): Promise<FolderCheck> {
  const entries = await readManifest(store, folder);
  const files = new Set((await store.list(`${folder}/`)).filter((k) => k.endsWith('.parquet') && !k.includes('/_manifest/')));
  const problems: string[] = [];
  let rows = 0;
  for (const e of entries) {
    const key = `${folder}/${e.file}`;
    if (!files.delete(key)) {
      problems.push(`${e.file}: in the manifest but not stored`);
      continue;
    }
    const sha = createHash('sha256')
      .update(await store.read(key))
      .digest('hex');
    if (sha !== e.sha256) problems.push(`${e.file}: sha256 ${sha} differs from the manifest's ${e.sha256}`);
    rows += e.rows;
  }
  for (const key of files) problems.push(`${key.slice(folder.length + 1)}: stored but not in the manifest`);
  return { folder, files: entries.length, rows, problems };
}
