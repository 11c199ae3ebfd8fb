import { createHash, createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedTokens } from '../auth/oauth2.js';
import { mskIamToken } from './sasl.js';

describe('AWS MSK IAM tokens (aws-msk-iam-sasl-signer-js)', () => {
  // AWS's documented example credentials: the signature is checked by recomputing SigV4 here, independently of the signer.
  const credentials = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const [k, v] of Object.entries(credentials)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('is a base64url SigV4-presigned kafka-cluster:Connect URL for the region, valid 15 minutes, whose signature SigV4 confirms', async () => {
    const before = Date.now();
    const token = await mskIamToken('us-west-2');
    expect(token.value).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token.expiresAt - before).toBeGreaterThan(895_000);
    expect(token.expiresAt - before).toBeLessThanOrEqual(901_000);

    const url = new URL(Buffer.from(token.value, 'base64url').toString('utf8'));
    expect(url.origin).toBe('https://kafka.us-west-2.amazonaws.com');
    const q = Object.fromEntries(url.searchParams);
    const amzDate = q['X-Amz-Date']!;
    const day = amzDate.slice(0, 8);
    expect(q).toMatchObject({
      Action: 'kafka-cluster:Connect',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': `AKIDEXAMPLE/${day}/us-west-2/kafka-cluster/aws4_request`,
      'X-Amz-Expires': '900',
      'X-Amz-SignedHeaders': 'host',
    });
    expect(q['User-Agent']).toMatch(/^aws-msk-iam-sasl-signer-js\//);

    // SigV4 (docs.aws.amazon.com, "Create a signed AWS API request"): the query is signed before the User-Agent is added.
    const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const signed = Object.entries(q)
      .filter(([k]) => k !== 'X-Amz-Signature' && k !== 'User-Agent')
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${encode(k)}=${encode(v)}`)
      .join('&');
    const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
    const canonical = ['GET', '/', signed, `host:${url.host}`, '', 'host', sha256('')].join('\n');
    const scope = `${day}/us-west-2/kafka-cluster/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
    const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
    const key = ['us-west-2', 'kafka-cluster', 'aws4_request'].reduce((k, part) => hmac(k, part), hmac(`AWS4${credentials.AWS_SECRET_ACCESS_KEY}`, day));
    expect(q['X-Amz-Signature']).toBe(createHmac('sha256', key).update(toSign).digest('hex'));
  });
});

describe('bearer tokens are cached', () => {
  it('asks once for concurrent connections, again only when the token nears its expiry', async () => {
    let now = 1_000_000;
    let asked = 0;
    const provider = cachedTokens(
      async () => {
        asked++;
        return { value: `t${asked}`, expiresAt: now + 600_000 };
      },
      () => now,
    );
    expect(await Promise.all([provider(), provider(), provider()])).toEqual([{ value: 't1' }, { value: 't1' }, { value: 't1' }]);
    now += 470_000; // 130 s left: more than a fifth of its life (120 s), kept
    expect(await provider()).toEqual({ value: 't1' });
    now += 20_000; // 110 s left: renewed
    expect(await provider()).toEqual({ value: 't2' });
    expect(asked).toBe(2);
  });

  it('a failed request is not cached: the next connection asks again', async () => {
    let asked = 0;
    const provider = cachedTokens(async () => {
      asked++;
      if (asked === 1) throw new Error('token endpoint down');
      return { value: 'ok', expiresAt: Date.now() + 3_600_000 };
    });
    await expect(provider()).rejects.toThrow('token endpoint down');
    expect(await provider()).toEqual({ value: 'ok' });
  });
});
