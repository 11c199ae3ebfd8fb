/**
 * Where the raw layer lives, behind one small interface: the local filesystem (the default) or
 * S3-compatible object storage. Both publish a finished file atomically and never replace one
 * that exists (link(2) locally, `If-None-Match: *` on S3), which is what keeps final files
 * immutable even when two workers race to write the same deterministic name.
 */
import type { Config } from '../config.js';
import { ConfigError } from '../contracts/errors.js';
import { LocalStore } from './local-store.js';
import { S3Store } from './s3-store.js';

export type PutOutcome = 'created' | 'exists';

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
  read(key: string): Promise<Buffer>;
  /** A path DuckDB or Spark can read the key at. */
  locate(key: string): string;
  close(): void;
}

export function openObjectStore(config: Config): ObjectStore {
  const url = config.storageUrl;
  if (url.startsWith('s3://')) {
    const [bucket, ...prefix] = url.slice('s3://'.length).split('/');
    if (!bucket) throw new ConfigError(`C360_STORAGE_URL ${url} names no bucket (expected s3://bucket[/prefix]).`);
    return new S3Store({ bucket, prefix: prefix.filter(Boolean).join('/'), spoolDir: config.spoolDir, endpoint: config.s3.endpoint, forcePathStyle: config.s3.forcePathStyle });
  }
  return new LocalStore(url.startsWith('file://') ? new URL(url).pathname : url, config.spoolDir);
}
