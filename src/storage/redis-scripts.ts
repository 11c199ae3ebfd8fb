/**
 * The topology's Redis work as Lua scripts called once per chunk of a batch. ioredis spends about
 * 17 µs of CPU per pipelined command here and about 3 µs per record inside one script call
 * (bench:stages): the stages' cost was the client's, not Redis'. Every key of a call must live on
 * one node (a plain Redis or one shard), which is why Redis Cluster is not supported.
 */
import type { Redis } from 'ioredis';

/** Records per script call: bounds both the reply size and how long one call holds Redis. */
const CHUNK = 4000;

/** KEYS: one per record; ARGV[1]: TTL in ms, ARGV[1 + i]: the claim of KEYS[i]. Returns each key's previous claim, or nil. */
const CLAIM = `
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1], 'NX', 'GET') or false
end
return out`;

/**
 * Per record: read the identities of each of its blocking keys, add its own, trim to the cap, renew
 * the TTL, and store its ref. KEYS: each record's blocking keys, then its ref key. ARGV: now, cap,
 * TTL, then per record: its number of blocking keys, its identity, its ref JSON.
 */
const NEAR_DUPLICATES = `
local now, cap, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local out, k, a = {}, 1, 4
while a <= #ARGV do
  local n, identity, ref = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2]
  local seen = {}
  for j = 1, n do
    local key = KEYS[k]
    seen[j] = redis.call('ZRANGE', key, 0, -1)
    redis.call('ZADD', key, now, identity)
    -- Only a set that was already full can now hold more than the cap.
    if #seen[j] >= cap then redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1)) end
    redis.call('PEXPIRE', key, ttl)
    k = k + 1
  end
  redis.call('SET', KEYS[k], ref, 'PX', ttl)
  k = k + 1
  out[#out + 1] = seen
  a = a + 3
end
return out`;

interface ScriptedRedis {
  c360Claim(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<(string | null)[]>;
  c360NearDuplicates(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<string[][][]>;
}

const defined = new WeakSet<Redis>();

function scripted(redis: Redis): ScriptedRedis {
  if (!defined.has(redis)) {
    redis.defineCommand('c360Claim', { lua: CLAIM });
    redis.defineCommand('c360NearDuplicates', { lua: NEAR_DUPLICATES });
    defined.add(redis);
  }
  return redis as unknown as ScriptedRedis;
}

/** `SET key claim PX ttl NX GET` for every key, in order: the previous claim of each key, or null where this call claimed it. */
export async function claimAll(redis: Redis, keys: string[], claims: string[], ttlMs: number): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let from = 0; from < keys.length; from += CHUNK) {
    const k = keys.slice(from, from + CHUNK);
    out.push(...(await scripted(redis).c360Claim(k.length, ...k, ttlMs, ...claims.slice(from, from + CHUNK))));
  }
  return out;
}

export interface NearDuplicateSubject {
  keys: string[];
  refKey: string;
  identity: string;
  ref: string;
}

/** For each subject, in order, the identities each of its keys held before it was added. */
export async function touchNearDuplicateKeys(redis: Redis, subjects: NearDuplicateSubject[], now: number, cap: number, ttlMs: number): Promise<string[][][]> {
  const out: string[][][] = [];
  for (let from = 0; from < subjects.length; from += CHUNK) {
    const chunk = subjects.slice(from, from + CHUNK);
    const keys = chunk.flatMap((s) => [...s.keys, s.refKey]);
    const args = chunk.flatMap((s) => [s.keys.length, s.identity, s.ref]);
    out.push(...(await scripted(redis).c360NearDuplicates(keys.length, ...keys, now, cap, ttlMs, ...args)));
  }
  return out;
}
