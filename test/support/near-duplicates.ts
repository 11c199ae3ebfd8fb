/** Reading the near-duplicate stage's state in Redis (storage/near-duplicate-state.ts) as a test checks it. */
import type { Redis } from 'ioredis';
import { DIGEST_BYTES, identityDigest } from '../../src/storage/near-duplicate-state.js';
import { bucketOf, LIVE_SLICES, sliceOf, sliceWidth } from '../../src/storage/sliced-state.js';

export function nearDuplicateState(redis: Redis, namespace: string, windowMs: number) {
  const current = () => sliceOf(Date.now(), sliceWidth(windowMs));
  const live = () => Array.from({ length: LIVE_SLICES }, (_, i) => current() - i);
  return {
    current,
    /** The identities a blocking key's digest holds in the current slice, oldest first, as hex. */
    async identitiesUnder(key: Buffer): Promise<string[]> {
      const { key: bucket, field } = bucketOf(`${namespace}:nb:`, current(), key);
      const value = (await redis.hgetBuffer(bucket, field)) ?? Buffer.alloc(0);
      const ids: string[] = [];
      for (let q = 0; q < value.length; q += DIGEST_BYTES) ids.push(value.subarray(q, q + DIGEST_BYTES).toString('hex'));
      return ids;
    },
    /** Whether a live slice holds a ref of the identity (its pseudonym). */
    async hasRef(identity: string): Promise<boolean> {
      for (const slice of live()) {
        const { key, field } = bucketOf(`${namespace}:nr:`, slice, identityDigest(identity));
        if (await redis.hexists(key, field)) return true;
      }
      return false;
    },
    /** Whether any hash of the state names the identity: as a ref's field or in a blocking key's list. */
    async names(identity: string): Promise<boolean> {
      const digest = identityDigest(identity);
      for (const key of await redis.keys(`${namespace}:n*`)) {
        if ((await redis.type(key)) !== 'hash') continue;
        for (const [field, value] of Object.entries(await redis.hgetallBuffer(key))) {
          if (key.startsWith(`${namespace}:nr:`) && Buffer.from(field, 'latin1').equals(digest.subarray(2))) return true;
          if (!key.startsWith(`${namespace}:nb:`)) continue;
          for (let q = 0; q < value.length; q += DIGEST_BYTES) if (value.subarray(q, q + DIGEST_BYTES).equals(digest)) return true;
        }
      }
      return false;
    },
  };
}
