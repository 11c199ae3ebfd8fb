// The S3 backend's failures, classified where the AWS SDK is called: a real SDK client against a
// loopback server that answers as S3 does (S3Mock, in object-store.int.test.ts, grants everything).
import { describe, expect, it } from 'vitest';
import { failureOf, useScriptedServer } from '../../test/support/http.js';
import { isRetriable } from '../contracts/errors.js';
import { retry } from '../retry.js';
import { S3Store } from './s3-store.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
const s3Error = (status: number, code: string) => ({
  status,
  headers: { 'content-type': 'application/xml' },
  body: `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
});

describe('S3 store failures', () => {
  const server = useScriptedServer();
  const store = () => new S3Store({ bucket: 'raw', prefix: 'layer', spoolDir: '/tmp', s3: { endpoint: server.url, forcePathStyle: true, timeoutMs: 30_000 } });

  it('a 403 fails at once with one sentence, and the retry loop does not retry it', async () => {
    server.answers = [s3Error(403, 'AccessDenied')];
    server.requests.length = 0;
    const error = await failureOf(retry(() => store().putIfAbsent('a.parquet', Buffer.from('x')), { retries: 5, initialMs: 1 }));
    expect(error.message).toBe('put s3://raw/layer/a.parquet answered 403 (AccessDenied); not retried');
    expect(isRetriable(error)).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('a 404 (no such bucket) fails at once too', async () => {
    server.answers = [s3Error(404, 'NoSuchBucket')];
    await expect(store().list('raw/')).rejects.toThrow('list s3://raw/layer/raw/ answered 404 (NoSuchBucket); not retried');
  });

  it('503 SlowDown and 500 are retried until S3 accepts the put', async () => {
    server.answers = [s3Error(503, 'SlowDown'), s3Error(500, 'InternalError'), { status: 200, body: '' }];
    server.requests.length = 0;
    expect(await retry(() => store().putIfAbsent('b.parquet', Buffer.from('x')), { retries: 5, initialMs: 1 })).toBe('created');
    expect(server.requests).toEqual([
      'PUT /raw/layer/b.parquet?x-id=PutObject',
      'PUT /raw/layer/b.parquet?x-id=PutObject',
      'PUT /raw/layer/b.parquet?x-id=PutObject',
    ]);
  });

  it('a 412 on a create-only put means the object exists, not a failure', async () => {
    server.answers = [s3Error(412, 'PreconditionFailed')];
    expect(await store().putIfAbsent('c.parquet', Buffer.from('x'))).toBe('exists');
  });

  it('an endpoint that does not answer is retriable', async () => {
    const unreachable = new S3Store({
      bucket: 'raw',
      prefix: '',
      spoolDir: '/tmp',
      s3: { endpoint: 'http://127.0.0.1:1', forcePathStyle: true, timeoutMs: 30_000 },
    });
    const error = await failureOf(unreachable.read('x'));
    expect(isRetriable(error)).toBe(true);
    expect(error.message).toMatch(/^get s3:\/\/raw\/x failed: /);
  });

  it('a server that stops answering mid-call fails the call within C360_S3_TIMEOUT_MS, retriable', async () => {
    server.answers = [{ status: 200, body: '', delayMs: 10_000 }];
    const quick = new S3Store({ bucket: 'raw', prefix: '', spoolDir: '/tmp', s3: { endpoint: server.url, forcePathStyle: true, timeoutMs: 300 } });
    const started = Date.now();
    const error = await failureOf(quick.putIfAbsent('d.parquet', Buffer.from('x')));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isRetriable(error)).toBe(true);
    expect(error.message).toMatch(/^put s3:\/\/raw\/d\.parquet failed: .*timed out/);
  });
});
