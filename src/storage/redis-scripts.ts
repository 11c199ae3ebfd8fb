/**
 * The topology's Redis work as Lua scripts called once per chunk of a batch. ioredis spends several
 * times more CPU per pipelined command than per record inside one script call (bench:stages):
 * the client's cost, not Redis', dominates. Every key of a call must live on
 * one node (a plain Redis or one shard), which is why Redis Cluster is not supported.
 */
import type { Redis } from 'ioredis';
import { callRedis, StateLostError } from './redis.js';

/** Records per script call: bounds both the reply size and how long one call holds Redis. */
const CHUNK = 4000;

/**
 * KEYS[1]: the state's epoch marker (state-changelog.ts), then one key per record; ARGV[1]: TTL in
 * ms, ARGV[i]: the claim of KEYS[i]. Returns the epoch, then each key's previous claim or nil;
 * refuses (C360LOST) when the marker is gone, since every claim would then look new.
 */
const CLAIM = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then return redis.error_reply('C360LOST the dedup state is not in Redis') end
local out = {epoch}
for i = 2, #KEYS do
  out[i] = redis.call('SET', KEYS[i], ARGV[i], 'PX', ARGV[1], 'NX', 'GET') or false
end
return out`;

interface ScriptedRedis {
  c360Claim(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<(string | null)[]>;
}

const defined = new WeakSet<Redis>();

function scripted(redis: Redis): ScriptedRedis {
  if (!defined.has(redis)) {
    redis.defineCommand('c360Claim', { lua: CLAIM });
    defined.add(redis);
  }
  return redis as unknown as ScriptedRedis;
}

/**
 * `SET key claim PX ttl NX GET` for every key, in order: the previous claim of each key, or null
 * where this call claimed it; and the state's epoch they were made under. StateLostError when
 * the state's marker is gone.
 */
export async function claimAll(
  redis: Redis,
  marker: string,
  keys: string[],
  claims: string[],
  ttlMs: number,
): Promise<{ epoch: string; previous: (string | null)[] }> {
  const previous: (string | null)[] = [];
  let epoch: string | undefined;
  for (let from = 0; from < keys.length; from += CHUNK) {
    const k = keys.slice(from, from + CHUNK);
    const [at, ...replies] = await callRedis('the dedup claims', () =>
      scripted(redis).c360Claim(k.length + 1, marker, ...k, ttlMs, ...claims.slice(from, from + CHUNK)),
    );
    if (epoch !== undefined && at !== epoch) throw new StateLostError('redis', 'Redis lost the dedup state between two calls of one batch');
    epoch = at!;
    previous.push(...replies);
  }
  return { epoch: epoch ?? '', previous };
}
