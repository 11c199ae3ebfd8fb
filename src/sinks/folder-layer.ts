/**
 * The Parquet-folder layer: files under Hive-style folders by source and day with deterministic
 * names (layout.ts), each with its manifest entry. What a partition holds in a folder is read from
 * the names of its files there; a file whose worker crashed before its entry gets the entry then.
 */
import { DependencyRefusedError, UnreadableFileError } from '../contracts/errors.js';
import { PROCESSOR_VERSION } from '../contracts/project.js';
import { crashPoint } from '../faults/failpoints.js';
import type { ObjectStore, PutOutcome } from '../storage/object-store.js';
import { fileName, manifestKey, parseFileName, partitionPrefix } from './layout.js';
import { type ManifestEntry, manifestEntryFromFile } from './manifest.js';
import type { FileSchema } from './parquet/parquet-file.js';
import type { SinkRecord } from './records.js';
import type { PublishedFile, PublishedGroup, SinkLayer } from './sink-layer.js';

export class FolderLayer implements SinkLayer {
  /** Data files in storage whose manifest entry is not written yet, by spool path: a retry writes only the entry. */
  private readonly published = new Map<string, PutOutcome>();

  constructor(
    private readonly store: ObjectStore,
    private readonly fileSchemaOf: (schemaId: number, schema: Record<string, unknown>) => FileSchema,
  ) {}

  fileSchema(record: SinkRecord): FileSchema {
    return this.fileSchemaOf(record.schemaId, record.schema);
  }

  readonly closesTogether = false;

  /** A group here is one file (closesTogether is false). */
  async publish(group: PublishedGroup): Promise<PutOutcome> {
    let outcome: PutOutcome = 'exists';
    for (const f of group.files) if ((await this.publishFile(group, f)) === 'created') outcome = 'created';
    return outcome;
  }

  private async publishFile(group: PublishedGroup, f: PublishedFile): Promise<PutOutcome> {
    const key = `${f.folder}/${fileName({ topic: group.topic, partition: group.partition, firstOffset: f.first, lastOffset: f.last })}`;
    let outcome = this.published.get(f.spoolPath);
    if (outcome === undefined) {
      outcome = await this.store.publishFile(f.spoolPath, key);
      this.published.set(f.spoolPath, outcome);
      crashPoint('sink-after-publish');
    }
    await this.store.putIfAbsent(manifestKey(key), Buffer.from(`${JSON.stringify(manifestEntry(key, group, f), null, 2)}\n`));
    this.published.delete(f.spoolPath);
    return outcome;
  }

  /** Lists the partition's files in a folder, and completes a manifest a crash left without its entry. */
  async storedThrough(folder: string, topic: string, partition: number): Promise<number> {
    const files = (await this.store.list(partitionPrefix(folder, topic, partition))).filter((k) => k.endsWith('.parquet'));
    let through = -1;
    if (files.length > 0) {
      const entries = new Set(await this.store.list(partitionPrefix(`${folder}/_manifest`, topic, partition)));
      for (const key of files) {
        through = Math.max(through, parseFileName(key)?.lastOffset ?? -1);
        if (!entries.has(manifestKey(key))) {
          const entry = await manifestEntryFromFile(this.store, key).catch((err: unknown) => {
            // A file under a name of this partition that is not one it wrote: the store's content to fix, not the record's fault.
            throw err instanceof UnreadableFileError ? new DependencyRefusedError('object-store', `${err.message}; move it out of the layer`) : err;
          });
          await this.store.putIfAbsent(manifestKey(key), Buffer.from(`${JSON.stringify(entry, null, 2)}\n`));
        }
      }
    }
    return through;
  }
}

function manifestEntry(key: string, group: PublishedGroup, f: PublishedFile): ManifestEntry {
  return {
    file: key.slice(key.lastIndexOf('/') + 1),
    topic: group.topic,
    partition: group.partition,
    first_offset: f.first,
    last_offset: f.last,
    rows: f.closed.rows,
    bytes: f.closed.bytes,
    sha256: f.closed.sha256,
    schema_id: f.schemaId,
    min_received_at: new Date(f.minTime).toISOString(),
    max_received_at: new Date(f.maxTime).toISOString(),
    written_at: new Date().toISOString(),
    writer: PROCESSOR_VERSION,
  };
}
