/**
 * The topology's Redis work as Lua scripts called once per chunk of a batch. ioredis spends several
 * times more CPU per pipelined command than per record inside one script call (bench:stages):
 * the client's cost, not Redis', dominates. Every key of a call must live on
 * one node (a plain Redis or one shard), which is why Redis Cluster is not supported.
 */
import type { Redis } from 'ioredis';
import { callRedis, redisFailure, StateLostError } from './redis.js';

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

/**
 * Per record: read the identities of each of its blocking keys, add its own, trim to the cap, renew
 * the TTL and store its ref (which names its keys, for forgetting); when its identity is new to the
 * window (no ref yet), count it in its term-frequency counters. KEYS: each record's blocking keys,
 * its ref key, its counters. ARGV: now, cap, TTL, the refs' key prefix, then per record: its number
 * of blocking keys, its identity, its ref JSON, its number of counters.
 *
 * Returns, in the one round trip, what scoring needs: the keys shared with other identities, as
 * {record, key, identity...} (1-based within the call: most records share none, and building a
 * reply for every key cost Redis more than the key updates); then the refs of those identities as
 * {identity, ref...}; then the counters of the records that share a key, as {key, count...}, read
 * once the call has counted. A key already shared by `cap` other identities is too common to say
 * anything and is left out.
 */
const NEAR_DUPLICATES = `
local now, cap, ttl, refPrefix = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local out, k, a, r = {}, 1, 5, 0
-- Per record that shares a key: the range of its counters in KEYS.
local countersOf = {}
-- New identities per counter, added once per call: the window's total and a common name would otherwise take two commands per record.
local counted = {}
local nargs = #ARGV
while a <= nargs do
  r = r + 1
  local n, identity, ref, t = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  for j = 1, n do
    local key = KEYS[k]
    local seen = redis.call('ZRANGE', key, 0, -1)
    if #seen > 0 then
      local match = {r, j}
      for _, id in ipairs(seen) do
        if id ~= identity then match[#match + 1] = id end
      end
      if #match > 2 and #match - 2 < cap then
        out[#out + 1] = match
        countersOf[r] = true
      end
    end
    -- Scores order identities by arrival, records of one call included, so trimming drops the oldest.
    redis.call('ZADD', key, now * 4096 + r, identity)
    -- Only a set that was already full can now hold more than the cap.
    if #seen >= cap then redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1)) end
    redis.call('PEXPIRE', key, ttl)
    k = k + 1
  end
  -- SET ... GET: a new identity (no ref yet) is counted once, whatever its replays.
  local known = redis.call('SET', KEYS[k], ref, 'PX', ttl, 'GET')
  -- The ref names every blocking key the identity was stored under in the window, not only this record's:
  -- its list ("keys", last in the JSON) takes the earlier ref's keys this record does not have.
  if known then
    local at, was = string.find(ref, '"keys":[', 1, true), string.find(known, '"keys":[', 1, true)
    if at and was then
      local mine, extra = string.sub(ref, at + 8, -3), {}
      for item in string.gmatch(string.sub(known, was + 8, -3), '[^,]+') do
        if not string.find(mine, item, 1, true) then extra[#extra + 1] = item end
      end
      if #extra > 0 then
        local sep = (mine == '') and '' or ','
        redis.call('SET', KEYS[k], string.sub(ref, 1, at + 7) .. mine .. sep .. table.concat(extra, ',') .. ']}', 'PX', ttl)
      end
    end
  end
  if not known then
    for c = k + 1, k + t do counted[KEYS[c]] = (counted[KEYS[c]] or 0) + 1 end
  end
  if countersOf[r] then countersOf[r] = {k + 1, k + t} end
  k = k + 1 + t
  a = a + 4
end
-- The counters are read only after the call, so counting at its end changes nothing any record of it sees.
for key, n in pairs(counted) do
  redis.call('INCRBY', key, n)
  redis.call('PEXPIRE', key, ttl)
end
local refs, counts, seen = {}, {}, {}
for _, m in ipairs(out) do
  for i = 3, #m do
    if not seen[m[i]] then
      seen[m[i]] = true
      refs[#refs + 1] = m[i]
      refs[#refs + 1] = redis.call('GET', refPrefix .. m[i]) or false
    end
  end
end
for _, range in pairs(countersOf) do
  for c = range[1], range[2] do
    if not seen[KEYS[c]] then
      seen[KEYS[c]] = true
      counts[#counts + 1] = KEYS[c]
      counts[#counts + 1] = redis.call('GET', KEYS[c]) or '0'
    end
  end
end
return {out, refs, counts}`;

interface ScriptedRedis {
  c360Claim(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<(string | null)[]>;
  c360NearDuplicates(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<[[number, number, ...string[]][], (string | null)[], string[]]>;
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

export interface NearDuplicateSubject {
  keys: string[];
  refKey: string;
  identity: string;
  ref: string;
  /** Counters of how many identities in the window hold one of its values (term frequencies), counted when the identity is new. */
  counters: string[];
}

/** A blocking key of a subject that other identities already held (fewer than the cap of them). */
export interface KeyMatch {
  subject: number;
  key: number;
  others: string[];
}

/** What touching the keys found: the keys shared with other identities, those identities' refs, and the sharing subjects' counters. */
export interface Touched {
  shared: KeyMatch[];
  refs: Map<string, string | null>;
  counts: Map<string, number>;
}

/**
 * Adds each subject's identity to its keys, in order, so a later subject sees the earlier ones;
 * returns what scoring the shared keys needs, in one script call per chunk of subjects.
 */
export async function touchNearDuplicateKeys(
  redis: Redis,
  subjects: NearDuplicateSubject[],
  o: { now: number; cap: number; ttlMs: number; refPrefix: string },
): Promise<Touched> {
  const touched: Touched = { shared: [], refs: new Map(), counts: new Map() };
  for (let from = 0; from < subjects.length; from += CHUNK) {
    const keys: string[] = [];
    const args: (string | number)[] = [o.now, o.cap, o.ttlMs, o.refPrefix];
    for (let i = from; i < Math.min(from + CHUNK, subjects.length); i++) {
      const s = subjects[i]!;
      keys.push(...s.keys, s.refKey, ...s.counters);
      args.push(s.keys.length, s.identity, s.ref, s.counters.length);
    }
    const [shared, refs, counts] = await callRedis('the near-duplicate keys', () => scripted(redis).c360NearDuplicates(keys.length, ...keys, ...args));
    for (const [subject, key, ...others] of shared) touched.shared.push({ subject: from + subject - 1, key: key - 1, others });
    // A later chunk read later: what it says of an identity or a counter is the newer.
    for (let i = 0; i < refs.length; i += 2) touched.refs.set(refs[i]!, refs[i + 1] ?? null);
    for (let i = 0; i < counts.length; i += 2) touched.counts.set(counts[i]!, Number(counts[i + 1]));
  }
  return touched;
}

/**
 * Removes identities (a forgotten person's) from near-duplicate state: from every blocking key
 * their ref names (without the `<ns>:nd:` prefix), then their ref. Identities stored before refs named their keys have an index
 * of them instead (`<ns>:ndkeys:<identity>`, gone within a window), read and deleted too.
 * Returns how many keys it changed or deleted.
 */
export async function forgetNearDuplicateIdentities(redis: Redis, namespace: string, identities: string[]): Promise<number> {
  if (identities.length === 0) return 0;
  const refs = identities.map((identity) => `${namespace}:ndref:${identity}`);
  const indexes = identities.map((identity) => `${namespace}:ndkeys:${identity}`);
  // Two round trips whatever the number of keys: read every ref and old index, then remove and delete in one pipeline.
  const [stored, indexed] = await callRedis('the near-duplicate refs', () =>
    Promise.all([redis.mget(refs), Promise.all(indexes.map((index) => redis.smembers(index)))]),
  );
  const pipeline = redis.pipeline();
  identities.forEach((identity, i) => {
    for (const key of new Set([...keysNamedBy(stored[i]).map((k) => `${namespace}:nd:${k}`), ...indexed[i]!])) pipeline.zrem(key, identity);
    pipeline.del(refs[i]!, indexes[i]!);
  });
  const replies = await callRedis('the near-duplicate keys', () => pipeline.exec());
  let changed = 0;
  for (const [err, n] of replies ?? []) {
    if (err) throw redisFailure('the near-duplicate keys', err);
    changed += Number(n);
  }
  return changed;
}

/** The blocking keys a stored ref names; none for a ref that is not one (written by hand, or before refs named them). */
function keysNamedBy(ref: string | null | undefined): string[] {
  if (!ref) return [];
  try {
    const keys = (JSON.parse(ref) as { keys?: unknown }).keys;
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}
