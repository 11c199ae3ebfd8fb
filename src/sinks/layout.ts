/**
 * The raw layer's layout (docs/contracts.md): Hive-style folders by source and ingest date (UTC),
 * and file names fixed by topic, partition and offsets, as the Confluent S3 sink names them, so a
 * replay writes the same names and a reader can tell from a name which records a file holds.
 */
export type LayerKind = 'raw' | 'near-duplicates' | 'quarantine';

const OFFSET_DIGITS = 20;

/**
 * Raw records have an `entity=` level under their source, whether the source carries one entity
 * or several: DuckDB and Spark need every file of a layer at the same partition depth.
 */
function folderOf(kind: LayerKind, source: string | undefined, date: string, entity?: string): string {
  if (kind === 'near-duplicates') return `near-duplicates/date=${date}`;
  return `${kind}/source=${source ?? 'unknown'}/${entity ? `entity=${entity}/` : ''}date=${date}`;
}

/** The folder layer's placement: the folder is also what holds offsets. */
export const placeInFolders = (at: { kind: LayerKind; source: string | undefined; date: string; entity: string | undefined }) => {
  const folder = folderOf(at.kind, at.source, at.date, at.entity);
  return { folder, target: folder };
};

export interface FileId {
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
}

export function fileName({ topic, partition, firstOffset, lastOffset }: FileId): string {
  return `${topic}+${partition}+${String(firstOffset).padStart(OFFSET_DIGITS, '0')}+${String(lastOffset).padStart(OFFSET_DIGITS, '0')}.parquet`;
}

/** The prefix every file of one topic-partition has in a folder: what a worker lists to learn what is already stored. */
export function partitionPrefix(folder: string, topic: string, partition: number): string {
  return `${folder}/${topic}+${partition}+`;
}

const NAME = /^(.+)\+(\d+)\+(\d{20})\+(\d{20})\.parquet$/;

export function parseFileName(name: string): FileId | undefined {
  const m = NAME.exec(name.slice(name.lastIndexOf('/') + 1));
  return m ? { topic: m[1]!, partition: Number(m[2]), firstOffset: Number(m[3]), lastOffset: Number(m[4]) } : undefined;
}

/** A data file's manifest entry sits in its folder's `_manifest/`, which Hive-style readers skip. */
export function manifestKey(dataKey: string): string {
  const slash = dataKey.lastIndexOf('/');
  return `${dataKey.slice(0, slash)}/_manifest/${dataKey.slice(slash + 1).replace(/\.parquet$/, '.json')}`;
}
