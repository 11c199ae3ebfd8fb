/**
 * The raw layer on S3-compatible object storage. A PUT is atomic (an object appears whole or not at
 * all), so files are spooled locally and uploaded once finished; `If-None-Match: *` makes the
 * upload create-only, so a final object is never replaced.
 */
import fs from 'node:fs';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { S3Settings } from '../config.js';
import { type C360Error, ConfigError, DependencyUnavailableError, describeError, httpError } from '../contracts/errors.js';
import type { ObjectStore, PutOutcome, StorageBackendSpec, StoredObject } from './object-store.js';

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  spoolDir: string | undefined;
  s3: S3Settings;
}

export class S3Store implements ObjectStore {
  readonly url: string;
  readonly spoolDir: string;
  private readonly client: S3Client;
  private readonly base: string;

  constructor(private readonly options: S3StoreOptions) {
    this.base = options.prefix ? `${options.prefix.replace(/\/+$/, '')}/` : '';
    this.url = `s3://${options.bucket}/${this.base}`;
    this.spoolDir = options.spoolDir ?? fs.mkdtempSync('/tmp/c360-spool-');
    this.client = s3Client(options.s3);
  }

  async publishFile(localPath: string, key: string): Promise<PutOutcome> {
    const body = fs.readFileSync(localPath);
    const outcome = await this.putIfAbsent(key, body);
    fs.rmSync(localPath, { force: true });
    return outcome;
  }

  async putIfAbsent(key: string, body: Buffer): Promise<PutOutcome> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.base + key, Body: body, IfNoneMatch: '*' }));
      return 'created';
    } catch (err) {
      // 412: the key exists; 409: a concurrent conditional write to the same key won.
      const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
      if (status === 412 || status === 409) return 'exists';
      throw this.failure('put', key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.listModified(prefix)).map((o) => o.key);
  }

  async listModified(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      try {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.base + prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(this.base.length), modifiedMs: o.LastModified?.getTime() ?? 0 });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } catch (err) {
        throw this.failure('list', prefix, err);
      }
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async remove(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.base + key }));
    } catch (err) {
      throw this.failure('delete', key, err);
    }
  }

  async read(key: string): Promise<Buffer> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.base + key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      throw this.failure('get', key, err);
    }
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.base, MaxKeys: 1 }));
    } catch (err) {
      throw this.failure('list', '', err);
    }
  }

  locate(key: string): string {
    return `s3://${this.options.bucket}/${this.base}${key}`;
  }

  close(): void {
    this.client.destroy();
  }

  private failure(op: string, key: string, err: unknown): C360Error {
    return s3Failure(`${op} ${this.url}${key}`, err);
  }
}

/**
 * A client of S3 or an S3-compatible server; credentials and region from the SDK's usual chain (AWS_* variables, profiles, instance roles).
 * Every call is bounded: to connect, without a byte moving either way (C360_S3_TIMEOUT_MS), and in all
 * (an upload of the largest file on a slow link included). Without bounds, an upload sent while the
 * server stops answering waits for ever, holding its partition and a graceful stop.
 */
export function s3Client(s3: S3Settings): S3Client {
  return new S3Client({
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.forcePathStyle,
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    // One attempt per call: failures are classified by s3Failure and retried by the caller's one retry loop (src/retry.ts).
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: Math.min(5_000, s3.timeoutMs),
      socketTimeout: s3.timeoutMs,
      requestTimeout: Math.max(300_000, s3.timeoutMs),
      throwOnRequestTimeout: true,
    },
  });
}

/** An S3 failure of `what` as one sentence: by its HTTP status when S3 answered (403 and 404 are not retried), else the network, retried. */
export function s3Failure(what: string, err: unknown): C360Error {
  if (err instanceof S3ServiceException && err.$metadata.httpStatusCode !== undefined) {
    return httpError('object-store', what, err.$metadata.httpStatusCode, { detail: err.name, cause: err });
  }
  return new DependencyUnavailableError('object-store', `${what} failed: ${describeError(err)}`, { cause: err });
}

export const s3Backend: StorageBackendSpec = {
  name: 's3',
  description:
    'S3 or an S3-compatible server (s3://bucket/prefix; C360_S3_ENDPOINT, C360_S3_FORCE_PATH_STYLE; credentials from the AWS SDK chain). Uploads are create-only (If-None-Match: *); 403 and 404 fail at once, throttling and 5xx are retried.',
  schemes: ['s3'],
  create: (url, config) => {
    const [bucket, ...prefix] = url.slice('s3://'.length).split('/');
    if (!bucket) throw new ConfigError(`C360_STORAGE_URL ${url} names no bucket (expected s3://bucket[/prefix]).`);
    return new S3Store({
      bucket,
      prefix: prefix.filter(Boolean).join('/'),
      spoolDir: config.spoolDir,
      s3: config.s3,
    });
  },
};
