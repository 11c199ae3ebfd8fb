// `c360 watch s3://bucket/prefix` against the stack's S3Mock, with objects uploaded by the AWS SDK
// as a vendor's uploader would: whole puts, a multipart upload left incomplete, a corrupt file,
// and a watcher killed mid-file.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CreateMultipartUploadCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3_URL } from '../../../dev/stack/s3.js';
import { S3_BUCKET } from '../../../dev/stack/versions.js';
import { collect, testKafka } from '../../../test/support/kafka.js';
import { testNamespace } from '../../../test/support/topology.js';
import { spawnCli } from '../../../test/support/worker.js';
import { HEADER } from '../../contracts/lineage.js';
import { type TopicNames, topicNames } from '../../contracts/topic-names.js';

// S3Mock accepts any credentials; the SDK only needs some to sign with.
const credentials = { AWS_ACCESS_KEY_ID: 'c360-test', AWS_SECRET_ACCESS_KEY: 'c360-test', AWS_REGION: 'us-east-1' };
const kafka = testKafka();
const fixtures = path.resolve('test/fixtures/files');

describe('c360 watch s3://…: a landing zone on object storage', () => {
  const prefix = `landing-${randomUUID().slice(0, 8)}`;
  const zone = `s3://${S3_BUCKET}/${prefix}`;
  const s3 = new S3Client({
    endpoint: S3_URL,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'c360-test', secretAccessKey: 'c360-test' },
  });
  let ns: string;
  let names: TopicNames;

  const put = (key: string, body: Buffer | string) => s3.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: `${prefix}/${key}`, Body: body }));
  const list = async (dir: string) => {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: S3_BUCKET, Prefix: `${prefix}/${dir}/` }));
    return (page.Contents ?? []).map((o) => o.Key!.slice(`${prefix}/${dir}/`.length)).sort();
  };
  const read = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: S3_BUCKET, Key: `${prefix}/${key}` }))).Body!.transformToString();
  const watch = async (extra: string[] = [], env: Record<string, string> = {}) => {
    const w = spawnCli(['watch', zone, '--once', '--namespace', ns, ...extra], {
      C360_S3_ENDPOINT: S3_URL,
      C360_S3_FORCE_PATH_STYLE: 'true',
      ...credentials,
      ...env,
    });
    const exit = await w.exited;
    return { ...exit, out: w.stdout(), all: w.output() };
  };

  beforeAll(() => {
    ns = testNamespace();
    names = topicNames(ns);
  });
  afterAll(() => s3.destroy());

  it('takes complete objects, never an incomplete multipart upload, archives what it ingested and rejects a corrupt file with a reason', async () => {
    await put('commerce/orders.csv', fs.readFileSync(path.join(fixtures, 'commerce-orders.csv')));
    await put('commerce/broken.csv.gz', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03]));
    await put('commerce/next.csv.part', 'still uploading');
    // A vendor's multipart upload, one part sent, not completed: S3 shows no object until it is.
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: S3_BUCKET, Key: `${prefix}/commerce/large.csv` }));
    await s3.send(
      new UploadPartCommand({
        Bucket: S3_BUCKET,
        Key: `${prefix}/commerce/large.csv`,
        UploadId: upload.UploadId,
        PartNumber: 1,
        Body: 'transaction_id\nX-1\n',
      }),
    );
    const run = await watch(['--quiet-seconds', '0']);
    expect(run.code, run.all).toBe(0);
    expect(run.out).toContain('commerce/orders.csv: ingested, 4 rows, 2 sent, 2 dead-lettered');
    expect(await list('commerce')).toEqual(['next.csv.part']);
    expect(await list('processing/commerce')).toEqual([]);
    expect(await list(`archive/commerce/${new Date().toISOString().slice(0, 10)}`)).toEqual(['orders.csv']);
    expect(await list('rejected/commerce')).toEqual(['broken.csv.gz', 'broken.csv.gz.reason.txt']);
    expect(await read('rejected/commerce/broken.csv.gz.reason.txt')).toMatch(
      /^extract\.unreadable_file: broken\.csv\.gz is not a whole gzip file \(.+\); nothing of it was sent\./,
    );
    const sent = await collect(kafka, names.ingest('commerce'), (s) => s.length === 2);
    expect(sent.every((m) => m.headers![HEADER.sourceKind]!.toString() === 'upload')).toBe(true);
    expect(sent.map((m) => JSON.parse(m.headers![HEADER.origin]!.toString()).file)).toEqual(['orders.csv', 'orders.csv']);
  });

  it('leaves an object alone during its quiet period, unless a .done marker says it is complete', async () => {
    await put('marketing/events.ndjson.gz', fs.readFileSync(path.join(fixtures, 'marketing-events.ndjson.gz')));
    expect((await watch(['--quiet-seconds', '600'])).out).toBe('');
    expect(await list('marketing')).toEqual(['events.ndjson.gz']);
    await put('marketing/events.ndjson.gz.done', '');
    expect((await watch(['--quiet-seconds', '600'])).out).toContain('marketing/events.ndjson.gz: ingested, 4 rows, 2 sent, 2 dead-lettered');
    expect(await list('marketing')).toEqual([]);
  });

  it('resumes an object whose watcher was killed mid-file: nothing lost, nothing twice', async () => {
    const lines = ['transaction_id,channel,occurred_at,currency,total_amount'];
    for (let i = 1; i <= 5_000; i++) lines.push(`S-${i},POS,2026-11-21T12:00:00Z,EUR,${i}.00`);
    await put('commerce/big.csv', `${lines.join('\n')}\n`);
    const killed = await watch(['--quiet-seconds', '0'], { C360_CRASH_AT: 'ingest-after-commit:2' });
    expect(killed.signal).toBe('SIGKILL');
    expect(await list('processing/commerce')).toEqual(['big.csv']);
    const resumed = await watch(['--quiet-seconds', '0']);
    expect(resumed.out, resumed.all).toMatch(/commerce\/big\.csv: resumed, \d+ rows, 5000 sent, 0 dead-lettered/);
    expect(await list('processing/commerce')).toEqual([]);
    const sent = await collect(kafka, names.ingest('commerce'), (s) => s.length >= 5_002);
    const keys = sent.map((m) => m.key!.toString()).filter((k) => k.startsWith('S-'));
    expect(keys).toHaveLength(5_000);
    expect(new Set(keys).size).toBe(5_000);
  });

  it('ingests any key S3 allows: a control character hides no key after it, a name over 255 bytes lands under its own name in lineage', async () => {
    const orders = fs.readFileSync(path.join(fixtures, 'commerce-orders.csv'), 'utf8').replace(/T-/g, 'K-');
    const names_ = ['a\u0001bell.csv', `${'long-'.repeat(60)}orders.csv`, 'z-after.csv'];
    for (const [i, name] of names_.entries()) await put(`commerce/${name}`, orders.replace(/K-/g, `K${i}-`));
    const run = await watch(['--quiet-seconds', '0']);
    expect(run.code, run.all).toBe(0);
    // The control character is shown escaped, never written to the terminal as it is.
    expect(run.out).toContain('commerce/a\\u0001bell.csv: ingested, 4 rows, 2 sent, 2 dead-lettered');
    expect(run.out).toContain(`commerce/${names_[1]}: ingested, 4 rows, 2 sent, 2 dead-lettered`);
    expect(run.out).toContain('commerce/z-after.csv: ingested, 4 rows, 2 sent, 2 dead-lettered');
    expect(await list('commerce')).toEqual(['next.csv.part']);
    const archived = await s3.send(new ListObjectsV2Command({ Bucket: S3_BUCKET, Prefix: `${prefix}/archive/commerce/`, EncodingType: 'url' }));
    const archivedNames = (archived.Contents ?? []).map((o) => decodeURIComponent(o.Key!).split('/').at(-1));
    for (const name of names_) expect(archivedNames).toContain(name);
    const sent = await collect(kafka, names.ingest('commerce'), (m) => m.filter((x) => /^K\d-/.test(x.key?.toString() ?? '')).length >= 6);
    const files = new Set(sent.filter((m) => /^K\d-/.test(m.key?.toString() ?? '')).map((m) => JSON.parse(m.headers![HEADER.origin]!.toString()).file));
    expect(files).toEqual(new Set(names_));
  });
});
