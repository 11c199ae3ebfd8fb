/**
 * Where a sink's closed files go, behind one interface: folders of Parquet files with a manifest
 * per file (folder-layer.ts), or Iceberg tables in a REST catalog (table-layer.ts). The partition
 * sink owns the exactly-once bookkeeping; a layer answers two questions and does one thing: which
 * offsets of a partition a target already holds, which file schema a record gets there, and
 * publishing a closed file.
 */
import type { PutOutcome } from '../storage/object-store.js';
import type { ClosedFile, FileSchema } from './parquet/parquet-file.js';
import type { SinkRecord } from './records.js';

/** A closed spool file on its way into the layer. */
export interface PublishedFile {
  spoolPath: string;
  folder: string;
  first: number;
  last: number;
  schemaId: number;
  minTime: number;
  maxTime: number;
  closed: ClosedFile;
}

/** Files of one partition for one target, published as one unit: the target then holds the partition's records for it through `through`. */
export interface PublishedGroup {
  topic: string;
  partition: number;
  target: string;
  through: number;
  files: PublishedFile[];
}

/**
 * `superseded`: the target holds some of the file's records and not others (another worker cut
 * them differently); nothing was published, and the partition is read again from the file's start.
 */
export type PublishOutcome = PutOutcome | 'superseded';

export interface SinkLayer {
  /**
   * Whether a partition's open files for one target close together. A table's offsets say which of a
   * partition's records it holds, so a commit must bring every record the partition has taken for
   * the table; a folder's files each name their own offsets.
   */
  readonly closesTogether: boolean;
  /** The last offset of `topic[partition]` the target holds (-1: none); may repair what a crash left half done. */
  storedThrough(target: string, topic: string, partition: number): Promise<number>;
  /** The Parquet schema a record's file gets in its target; throws SchemaError when the record's contract cannot go there. */
  fileSchema(record: SinkRecord): FileSchema | Promise<FileSchema>;
  /** Puts closed files into their target; each call is complete or throws, classified, with nothing half visible. */
  publish(group: PublishedGroup): Promise<PublishOutcome>;
}
