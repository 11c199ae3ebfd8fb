/**
 * A landing zone on S3 or an S3-compatible store (`s3://bucket/prefix`), as vendors' uploaders
 * and bucket syncs fill it. It polls ListObjectsV2 rather than reading bucket notifications: a
 * listing works on every S3-compatible store with read access alone, needs no queue to provision,
 * and a source's prefix holds only what waits (handled files move away), so each poll lists little.
 * Only completed uploads are objects (a multipart upload is invisible until completed); a move is
 * a copy then a delete, so a crash between the two leaves both, and the content-addressed ingest
 * skips the second.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { Config } from '../../config.js';
import { type C360Error, ConfigError, fileSystemFailure, onDisk } from '../../contracts/errors.js';
import { s3Client, s3Failure } from '../../storage/s3-store.js';
import { extensionsOf, type LandingObject, type LandingStorage, suffixed } from './storage.js';

/** A key as ListObjectsV2 gives it with EncodingType=url: percent-encoded, a space as "+" on AWS (S3-compatible servers may write %20). */
function urlDecodedKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    // Not percent-encoding after all: the key as sent.
    return key;
  }
}

export class BucketLanding implements LandingStorage {
  readonly url: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly base: string;

  constructor(url: string, config: Config) {
    const [bucket, ...prefix] = url.slice('s3://'.length).split('/');
    if (!bucket) throw new ConfigError(`landing zone ${url} names no bucket (expected s3://bucket[/prefix]).`);
    this.bucket = bucket;
    const p = prefix.filter(Boolean).join('/');
    this.base = p ? `${p}/` : '';
    this.url = `s3://${bucket}/${this.base}`;
    // As the raw layer's S3 store: endpoint and path style from C360_S3_*, credentials from the AWS SDK chain.
    this.client = s3Client(config.s3);
  }

  private key(dir: string, name = ''): string {
    return `${this.base}${dir}/${name}`;
  }

  /**
   * Keys are asked URL-encoded: S3 allows control characters in a key, which XML 1.0 cannot carry,
   * and a listing that spelled them out would stop parsing there, hiding every key after it.
   */
  async list(dir: string): Promise<LandingObject[]> {
    const prefix = this.key(dir);
    const out: LandingObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('list', prefix, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', EncodingType: 'url', ContinuationToken: token })),
      );
      // A server that ignores EncodingType (some S3-compatible ones) sends keys as they are, and says so by not echoing it.
      const encoded = page.EncodingType === 'url';
      for (const o of page.Contents ?? []) {
        const key = o.Key === undefined ? undefined : encoded ? urlDecodedKey(o.Key) : o.Key;
        const name = key?.slice(prefix.length);
        if (name) out.push({ name, modifiedMs: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
      throw this.failure('head', key, err);
    }
  }

  async move(dir: string, name: string, toDir: string): Promise<string> {
    const target = (await this.exists(this.key(toDir, name))) ? suffixed(name, String(Date.now())) : name;
    const from = this.key(dir, name);
    const to = this.key(toDir, target);
    await this.call('copy', from, () =>
      this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: `${this.bucket}/${encodeURIComponent(from).replace(/%2F/g, '/')}` })),
    );
    await this.call('delete', from, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: from })));
    return target;
  }

  async remove(dir: string, name: string): Promise<void> {
    const key = this.key(dir, name);
    await this.call('delete', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  async readText(dir: string, name: string): Promise<string | undefined> {
    const key = this.key(dir, name);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await res.Body!.transformToString('utf8');
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return undefined;
      throw this.failure('get', key, err);
    }
  }

  async writeText(dir: string, name: string, text: string): Promise<void> {
    const key = this.key(dir, name);
    await this.call('put', key, () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text })));
  }

  /** The object downloaded under a name any filesystem takes (a key may hold control characters, or be longer than 255 bytes), its extensions kept. */
  async local(dir: string, name: string): Promise<{ path: string; release(): void }> {
    const key = this.key(dir, name);
    const folder = onDisk('disk', 'making a download folder', () => fs.mkdtempSync(path.join(os.tmpdir(), 'c360-landing-')));
    const file = path.join(folder, `object${extensionsOf(name)}`);
    const release = () => fs.rmSync(folder, { recursive: true, force: true });
    try {
      const res = await this.call('get', key, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
      // Streamed to disk: a file may be larger than memory. A write that fails is the disk's; a read that fails, the store's.
      const out = fs.createWriteStream(file);
      let written: unknown;
      out.on('error', (err) => (written ??= err));
      await pipeline(res.Body as NodeJS.ReadableStream, out).catch((err: unknown) => {
        throw written === undefined ? this.failure('get', key, err) : (fileSystemFailure('disk', `downloading to ${folder}`, written) ?? written);
      });
    } catch (err) {
      release();
      throw err;
    }
    return { path: file, release };
  }

  async check(): Promise<void> {
    await this.call('list', this.base, () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.base, MaxKeys: 1 })));
  }

  close(): void {
    this.client.destroy();
  }

  private async call<T>(op: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.failure(op, key, err);
    }
  }

  private failure(op: string, key: string, err: unknown): C360Error {
    return s3Failure(`${op} s3://${this.bucket}/${key}`, err);
  }
}
