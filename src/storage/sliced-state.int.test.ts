// The sliced layout against the real Redis, through the dedup claims: a claim is found for its
// window and not after, and the buckets of a slice whose time is over are deleted, a bounded share
// per script call, with the slice leaving the registry once they are all gone; and the advice a
// worker logs at start when Redis would keep the buckets as hash tables.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../test/support/kafka.js';
import { PrivateRedis } from '../../test/support/redis.js';
import { clearRedis, testNamespace } from '../../test/support/topology.js';
import { createLogger } from '../observability/logger.js';
import { claimAll, claimValue } from './dedup-claims.js';
import { createRedis } from './redis.js';
import { compactnessAdvice, sliceOf, sliceWidth } from './sliced-state.js';

describe('the sliced layout (Redis)', () => {
  const namespace = testNamespace();
  const redis = createRedis(config, createLogger('warn'));
  const prefix = `${namespace}:dd:`;
  const marker = `${namespace}:dedup:epoch`;
  const windowMs = 60_000;
  const width = sliceWidth(windowMs);
  // A time at the start of a slice, so that the slices of the test are whole.
  const start = (sliceOf(Date.now(), width) + 1) * width;
  const claim = (digest: Buffer, at: number) =>
    claimAll(redis, { marker, prefix, now: at, windowMs }, [{ digest, claim: claimValue(at, Buffer.from('x')), legacyKey: `${namespace}:dedup:none` }]);
  const digest = (n: number) => Buffer.from([n >> 8, n & 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

  beforeAll(async () => {
    await redis.connect();
    await redis.set(marker, 'test');
  });
  afterAll(async () => {
    await clearRedis(namespace);
    redis.disconnect();
  });

  it('finds a claim for a window, from the later slices too, and not after it', async () => {
    expect((await claim(digest(1), start)).previous).toEqual([null]);
    expect((await claim(digest(1), start + width + 1)).previous[0]).not.toBeNull();
    expect((await claim(digest(1), start + windowMs - 1000)).previous[0]).not.toBeNull();
    // A window later the claim is over, though its slice is still read: the record claims anew.
    expect((await claim(digest(1), start + windowMs + 1000)).previous).toEqual([null]);
  });

  it('takes claims and earlier keys of any length in one call, each read back where it was packed', async () => {
    // An event id of 70,000 characters makes a key of the earlier layout longer than a 2-byte length holds.
    const long = 'e'.repeat(70_000);
    const requests = [5, 6, 7].map((n) => ({
      digest: digest(n),
      claim: claimValue(start, Buffer.from(n === 6 ? long : `claim ${n}`)),
      legacyKey: `${namespace}:dedup:crm:id:${n === 6 ? long : n}`,
    }));
    expect((await claimAll(redis, { marker, prefix, now: start, windowMs }, requests)).previous).toEqual([null, null, null]);
    const again = await claimAll(redis, { marker, prefix, now: start + 1000, windowMs }, requests);
    expect(again.previous.map((p) => p?.equals(requests[again.previous.indexOf(p)]!.claim))).toEqual([true, true, true]);
  });

  it('finds a claim a worker whose clock is ahead made in the next slice', async () => {
    const boundary = start + 2 * width;
    expect((await claim(digest(3), boundary + 500)).previous).toEqual([null]);
    expect((await claim(digest(3), boundary - 500)).previous[0]).not.toBeNull();
  });

  it('deletes the buckets of an ended slice a share per call, then forgets the slice', async () => {
    const first = sliceOf(start, width);
    for (const n of [0, 700, 65_535]) await claim(digest(n), start);
    expect(await redis.exists(`${prefix}${first}:0`, `${prefix}${first}:700`, `${prefix}${first}:65535`)).toBe(3);
    // The slice ends a window after its own end; each later call deletes 1,024 shards of it.
    const ended = start + width + windowMs;
    await claim(digest(2), ended);
    expect(await redis.exists(`${prefix}${first}:0`, `${prefix}${first}:700`, `${prefix}${first}:65535`)).toBe(1);
    expect(await redis.zscore(`${prefix}slices`, String(first))).not.toBeNull();
    for (let i = 1; i < 64; i++) await claim(digest(2), ended);
    expect(await redis.exists(`${prefix}${first}:65535`)).toBe(0);
    expect(await redis.zscore(`${prefix}slices`, String(first))).toBeNull();
    expect(await redis.hlen(`${prefix}slices:swept`)).toBe(0);
  });
});

describe('advice on a Redis that would not keep the state compact', () => {
  const own = new PrivateRedis();
  beforeAll(() => own.start());
  afterAll(() => own.kill());

  it('names the setting while hash-max-listpack-value is below 256 bytes, and nothing once it is raised', async () => {
    const client = new Redis(own.url);
    try {
      expect(await compactnessAdvice(client)).toBe(
        'Redis keeps hashes with values over 64 bytes as hash tables: set hash-max-listpack-value 512 for compact near-duplicate state (docs/topology.md, What Redis holds)',
      );
      await client.config('SET', 'hash-max-listpack-value', '512');
      expect(await compactnessAdvice(client)).toBeUndefined();
    } finally {
      client.disconnect();
    }
  });
});
