// How a bucket landing zone reads a listing, against a loopback server that answers as S3 does,
// and as S3-compatible servers that ignore EncodingType=url do (S3Mock, which honours it, is in bucket.int.test.ts).
import { describe, expect, it } from 'vitest';
import { useScriptedServer } from '../../../test/support/http.js';
import { loadConfig } from '../../config.js';
import { BucketLanding } from './bucket.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

const listing = (keys: string[], encodingType?: string) => ({
  status: 200,
  headers: { 'content-type': 'application/xml' },
  body: `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>drops</Name><Prefix>zone/crm/</Prefix>${
    encodingType ? `<EncodingType>${encodingType}</EncodingType>` : ''
  }<KeyCount>${keys.length}</KeyCount><IsTruncated>false</IsTruncated>${keys
    .map((k) => `<Contents><Key>${k}</Key><LastModified>2026-12-06T10:00:00.000Z</LastModified><Size>1</Size></Contents>`)
    .join('')}</ListBucketResult>`,
});

describe('a bucket landing zone lists every key', () => {
  const server = useScriptedServer();
  const zone = () => new BucketLanding('s3://drops/zone', loadConfig({ C360_S3_ENDPOINT: server.url, C360_S3_FORCE_PATH_STYLE: 'true' }));

  it('asks for URL-encoded keys and decodes them: a control character, a space written "+" as AWS does, a literal "+"', async () => {
    server.answers = [listing(['zone/crm/a%01bell.csv', 'zone/crm/with+space.csv', 'zone/crm/plus%2Bsign.csv', 'zone/crm/z.csv'], 'url')];
    server.requests.length = 0;
    expect((await zone().list('crm')).map((o) => o.name)).toEqual(['a\u0001bell.csv', 'with space.csv', 'plus+sign.csv', 'z.csv']);
    expect(server.requests[0]).toMatch(/encoding-type=url/);
  });

  it('takes the keys as they are from a server that ignores EncodingType and does not echo it', async () => {
    server.answers = [listing(['zone/crm/100%.csv', 'zone/crm/a+b.csv'])];
    expect((await zone().list('crm')).map((o) => o.name)).toEqual(['100%.csv', 'a+b.csv']);
  });
});
