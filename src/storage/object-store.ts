/**
 * Where the raw layer lives, behind one small interface: the local filesystem (the default) or
 * S3-compatible object storage. Both publish a finished file atomically and never replace one
 * that exists (link(2) locally, `If-None-Match: *` on S3), which is what keeps final files
 * immutable even when two workers race to write the same deterministic name.
 */
import type { Config } from '../config.js';
import type { ComponentSpec } from '../registry.js';

export type PutOutcome = 'created' | 'exists';

export interface StoredObject {
  key: string;
  modifiedMs: number;
}

export interface ObjectStore {
  /** `file:///…` or `s3://bucket/prefix`, for messages and the README's examples. */
  readonly url: string;
  /** A local folder for files being written; on the same filesystem as the store when it is local. */
  readonly spoolDir: string;
  /** Publishes a finished, fsynced local file under `key`, unless an object already has that key; the local file is gone afterwards. */
  publishFile(localPath: string, key: string): Promise<PutOutcome>;
  /** Small objects (manifest entries), create-only too. */
  putIfAbsent(key: string, body: Buffer): Promise<PutOutcome>;
  /** Every key that starts with `prefix`, sorted; spool files are never listed. */
  list(prefix: string): Promise<string[]>;
  /** The same, each with when it was last written (ms). */
  listModified(prefix: string): Promise<StoredObject[]>;
  /**
   * Deletes an object (absent already is fine). Only table maintenance deletes, and only files no
   * snapshot of the table names any more, past a grace period: the layers are otherwise immutable.
   */
  remove(key: string): Promise<void>;
  read(key: string): Promise<Buffer>;
  /** Throws, classified, when the store cannot be reached or refuses this process (a probe at start, and readiness). */
  check(): Promise<void>;
  /** A path DuckDB or Spark can read the key at. */
  locate(key: string): string;
  close(): void;
}

/** A storage backend, registered by name in storage/backends.ts and chosen by the scheme of C360_STORAGE_URL. */
export interface StorageBackendSpec extends ComponentSpec {
  /** URL schemes it serves; '' is a plain folder path. */
  schemes: string[];
  create(url: string, config: Config): ObjectStore;
}
