import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { S3_URL } from '../../dev/stack/s3.js';
import { S3_BUCKET } from '../../dev/stack/versions.js';
import { LocalStore } from './local-store.js';
import type { ObjectStore } from './object-store.js';
import { S3Store } from './s3-store.js';

// S3Mock accepts any credentials; the SDK only needs some to sign with.
process.env.AWS_ACCESS_KEY_ID ??= 'c360-test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'c360-test';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-store-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const backends: Array<[string, () => ObjectStore]> = [
  ['local filesystem', () => new LocalStore(tmp(), undefined)],
  [
    'S3 (S3Mock on loopback)',
    () =>
      new S3Store({
        bucket: S3_BUCKET,
        prefix: `test-${randomUUID().slice(0, 8)}`,
        spoolDir: tmp(),
        s3: { endpoint: S3_URL, forcePathStyle: true, timeoutMs: 30_000 },
      }),
  ],
];

describe.each(backends)('object store: %s', (_name, open) => {
  it('publishes a file once and never replaces it', async () => {
    const store = open();
    const spool = store.spoolDir;
    fs.mkdirSync(spool, { recursive: true });
    const first = path.join(spool, 'a.tmp');
    fs.writeFileSync(first, 'first');
    expect(await store.publishFile(first, 'raw/source=crm/date=2026-11-27/f.parquet')).toBe('created');
    expect(fs.existsSync(first)).toBe(false);
    const second = path.join(spool, 'b.tmp');
    fs.writeFileSync(second, 'second');
    expect(await store.publishFile(second, 'raw/source=crm/date=2026-11-27/f.parquet')).toBe('exists');
    expect((await store.read('raw/source=crm/date=2026-11-27/f.parquet')).toString()).toBe('first');
    expect(await store.putIfAbsent('raw/source=crm/date=2026-11-27/_manifest/f.json', Buffer.from('{}'))).toBe('created');
    expect(await store.putIfAbsent('raw/source=crm/date=2026-11-27/_manifest/f.json', Buffer.from('{"x":1}'))).toBe('exists');
    expect(await store.list('raw/source=crm/')).toEqual(['raw/source=crm/date=2026-11-27/_manifest/f.json', 'raw/source=crm/date=2026-11-27/f.parquet']);
    expect(await store.list('raw/source=crm/date=2026-11-27/f')).toEqual(['raw/source=crm/date=2026-11-27/f.parquet']);
    expect(await store.list('raw/source=web/')).toEqual([]);
    store.close();
  });

  it('lists when each object was written, and deletes one (table maintenance only)', async () => {
    const store = open();
    const before = Date.now() - 60_000;
    await store.putIfAbsent('t/data/a.parquet', Buffer.from('a'));
    await store.putIfAbsent('t/data/b.parquet', Buffer.from('b'));
    const listed = await store.listModified('t/');
    expect(listed.map((o) => o.key)).toEqual(['t/data/a.parquet', 't/data/b.parquet']);
    for (const o of listed) expect(o.modifiedMs).toBeGreaterThan(before);
    await store.remove('t/data/a.parquet');
    await store.remove('t/data/gone-already.parquet');
    expect(await store.list('t/')).toEqual(['t/data/b.parquet']);
    store.close();
  });
});
