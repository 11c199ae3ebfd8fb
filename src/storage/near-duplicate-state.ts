/**
 * The near-duplicate stage's state in Redis, in the sliced layout (sliced-state.ts), as binary:
 *
 * - `<ns>:nb:<slice>:<shard>` blocking keys: field, a key's digest; value, the identities seen
 *   with it in that slice (10 bytes each, oldest first, at most the cap);
 * - `<ns>:nr:<slice>:<shard>` refs: field, an identity; value, the shards of every blocking key it
 *   was stored under in the window (so forgetting it finds them), then the stage's sealed ref;
 * - `<ns>:ntf:<slice>:<shard>` term-frequency counters: identities per name digest, and
 *   `<ns>:ntf:<slice>:all` identities in all, each identity counted in the slices it appears in;
 * - `<ns>:nd:slices`: the slices that may still hold buckets, for forgetting.
 *
 * Digests and identities are truncated HMACs (Pseudonyms.digest); the ref is sealed: no personal
 * value in keys or values.
 */
import type { Redis } from 'ioredis';
import { callRedis, redisFailure } from './redis.js';
import { LIVE_SLICES, SLICED_LUA, sliceWidth } from './sliced-state.js';

/** Bytes of an identity and of a blocking key's or name's digest: 2 of shard, 8 of field. */
export const DIGEST_BYTES = 10;

/** An identity's compact form, from the pseudonym the privacy tools know it by. */
export const identityDigest = (identity: string): Buffer => Buffer.from(identity, 'base64url').subarray(0, DIGEST_BYTES);

/** Records per script call: bounds both the reply size and how long one call holds Redis. */
const CHUNK = 4000;

/**
 * Per record, in order (so a later record sees the earlier ones): reads the identities of each of
 * its blocking keys in the live slices, adds its own to the current slice's (oldest dropped past
 * the cap), stores its ref in the current slice (with the shards of its earlier ref's keys), and
 * counts its names when it is new to the slice. ARGV: now, slice width, window, cap, prefix; then
 * per record: its number of keys and of counters, its identity, its ref, its keys' and counters'
 * digests.
 *
 * Returns, in the one round trip, what scoring needs: the keys shared with other identities (fewer
 * than the cap of them), as {record, key, identity...} (1-based within the call); the refs of those
 * identities, as {identity, ref...}; the counters of the records that share a key, summed over
 * the live slices, as {digest, count...}; and the identities in all.
 */
const NEAR_DUPLICATES = `${SLICED_LUA}
local now, width, window, cap, p = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local ID = ${DIGEST_BYTES}
local t = math.floor(now / width)
local live = {}
for s = t, t - ${LIVE_SLICES - 1}, -1 do live[#live + 1] = s end
local function each(v, f) for q = 1, #v, ID do f(string.sub(v, q, q + ID - 1)) end end
local function shardsOf(v)
  local n = string.byte(v, 1) * 256 + string.byte(v, 2)
  local list = {}
  for j = 0, n - 1 do list[#list + 1] = string.sub(v, 3 + 2 * j, 4 + 2 * j) end
  return list
end
-- The new ref's value with the shards of the earlier ref's keys added.
local function merged(ref, known)
  if not known then return ref end
  local mine, has = shardsOf(ref), {}
  for _, s in ipairs(mine) do has[s] = true end
  local extra = {}
  for _, s in ipairs(shardsOf(known)) do if not has[s] then has[s] = true; extra[#extra + 1] = s end end
  if #extra == 0 then return ref end
  local n = #mine + #extra
  return string.char(math.floor(n / 256), n % 256) .. table.concat(mine) .. table.concat(extra) .. string.sub(ref, 3 + 2 * #mine)
end
local out, sharing, counted = {}, {}, {}
local a, r = 6, 0
while a <= #ARGV do
  r = r + 1
  local nk, nc, identity, ref = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3]
  for j = 1, nk do
    local d = ARGV[a + 3 + j]
    local others, seen, current = {}, {}, ''
    for i, s in ipairs(live) do
      local v = redis.call('HGET', bucket(p .. 'nb:', s, d), field(d))
      if v then
        if i == 1 then current = v end
        each(v, function(id) if id ~= identity and not seen[id] then seen[id] = true; others[#others + 1] = id end end)
      end
    end
    if #others > 0 and #others < cap then
      local match = {r, j}
      for _, id in ipairs(others) do match[#match + 1] = id end
      out[#out + 1] = match
      sharing[r] = {a + 4 + nk, a + 3 + nk + nc}
    end
    local kept = {}
    each(current, function(id) if id ~= identity then kept[#kept + 1] = id end end)
    while #kept >= cap do table.remove(kept, 1) end
    kept[#kept + 1] = identity
    local key = bucket(p .. 'nb:', t, d)
    redis.call('HSET', key, field(d), table.concat(kept))
    expiring[key] = true
  end
  local refKey = bucket(p .. 'nr:', t, identity)
  local known = redis.call('HGET', refKey, field(identity))
  local newToSlice = not known
  for i = 2, #live do
    if known then break end
    known = redis.call('HGET', bucket(p .. 'nr:', live[i], identity), field(identity))
  end
  redis.call('HSET', refKey, field(identity), merged(ref, known))
  expiring[refKey] = true
  if newToSlice then
    counted['all'] = (counted['all'] or 0) + 1
    for c = a + 4 + nk, a + 3 + nk + nc do counted[ARGV[c]] = (counted[ARGV[c]] or 0) + 1 end
  end
  a = a + 4 + nk + nc
end
-- Counted only after every record, so counting changes nothing any record of the call sees.
local totals = p .. 'ntf:' .. t .. ':all'
for d, n in pairs(counted) do
  if d == 'all' then
    redis.call('INCRBY', totals, n)
    expiring[totals] = true
  else
    local key = bucket(p .. 'ntf:', t, d)
    redis.call('HINCRBY', key, field(d), n)
    expiring[key] = true
  end
end
local expiry = (t + 1) * width + window
expireAll(expiry)
redis.call('ZADD', p .. 'nd:slices', expiry, t)
redis.call('ZREMRANGEBYSCORE', p .. 'nd:slices', '-inf', now)
redis.call('PEXPIREAT', p .. 'nd:slices', expiry)
local refs, counts, done = {}, {}, {}
for _, m in ipairs(out) do
  for i = 3, #m do
    local id = m[i]
    if not done[id] then
      done[id] = true
      local v = false
      for _, s in ipairs(live) do
        v = redis.call('HGET', bucket(p .. 'nr:', s, id), field(id))
        if v then break end
      end
      refs[#refs + 1] = id
      refs[#refs + 1] = v
    end
  end
end
local function summed(f)
  local n = 0
  for _, s in ipairs(live) do n = n + tonumber(f(s) or 0) end
  return n
end
for _, range in pairs(sharing) do
  for c = range[1], range[2] do
    local d = ARGV[c]
    if not done[d] then
      done[d] = true
      counts[#counts + 1] = d
      counts[#counts + 1] = summed(function(s) return redis.call('HGET', bucket(p .. 'ntf:', s, d), field(d)) end)
    end
  end
end
local population = summed(function(s) return redis.call('GET', p .. 'ntf:' .. s .. ':all') end)
return {out, refs, counts, population}`;

/**
 * Removes identities from the state: their refs in every live slice, and them from every blocking
 * key of the shards those refs name. ARGV: prefix, then the identities. Returns the entries changed.
 */
const FORGET = `${SLICED_LUA}
local p, ID = ARGV[1], ${DIGEST_BYTES}
local slices = redis.call('ZRANGE', p .. 'nd:slices', 0, -1)
local changed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local shards = {}
  for _, s in ipairs(slices) do
    local key = bucket(p .. 'nr:', s, id)
    local v = redis.call('HGET', key, field(id))
    if v then
      local n = string.byte(v, 1) * 256 + string.byte(v, 2)
      for j = 0, n - 1 do shards[string.byte(v, 3 + 2 * j) * 256 + string.byte(v, 4 + 2 * j)] = true end
      redis.call('HDEL', key, field(id))
      changed = changed + 1
    end
  end
  for num in pairs(shards) do
    for _, s in ipairs(slices) do
      local key = p .. 'nb:' .. s .. ':' .. num
      local all = redis.call('HGETALL', key)
      for k = 1, #all, 2 do
        local v, kept, found = all[k + 1], {}, false
        for q = 1, #v, ID do
          local x = string.sub(v, q, q + ID - 1)
          if x == id then found = true else kept[#kept + 1] = x end
        end
        if found then
          if #kept == 0 then redis.call('HDEL', key, all[k]) else redis.call('HSET', key, all[k], table.concat(kept)) end
          changed = changed + 1
        end
      end
    end
  end
end
return changed`;

type Touch = [[number, number, ...Buffer[]][], (Buffer | null)[], (Buffer | number)[], number];

interface ScriptedRedis {
  c360NearDuplicatesBuffer(numKeys: number, ...args: (Buffer | string | number)[]): Promise<Touch>;
  c360ForgetNearDuplicates(numKeys: number, ...args: (Buffer | string)[]): Promise<number>;
}

const defined = new WeakSet<Redis>();

function scripted(redis: Redis): ScriptedRedis {
  if (!defined.has(redis)) {
    redis.defineCommand('c360NearDuplicates', { lua: NEAR_DUPLICATES });
    redis.defineCommand('c360ForgetNearDuplicates', { lua: FORGET });
    defined.add(redis);
  }
  return redis as unknown as ScriptedRedis;
}

export interface NearDuplicateSubject {
  /** Its identity's digest (identityDigest). */
  identity: Buffer;
  /** Its blocking keys' digests. */
  keys: Buffer[];
  /** Its names' digests, whose counters hold how many identities in the window have that name. */
  counters: Buffer[];
  /** The stage's ref of its record (sealed): what a later record matched with it gets. */
  ref: Buffer;
}

/** A blocking key of a subject that other identities already held (fewer than the cap of them). */
export interface KeyMatch {
  subject: number;
  key: number;
  /** Their identities, as latin1 strings of their digests. */
  others: string[];
}

/** What touching the keys found: the keys shared with other identities, those identities' refs, the sharing subjects' counters and the identities in all. */
export interface Touched {
  shared: KeyMatch[];
  /** By identity (latin1 of its digest): its latest ref, or undefined when it is gone. */
  refs: Map<string, Buffer | undefined>;
  /** By name digest (latin1): identities with that name. */
  counts: Map<string, number>;
  population: number;
}

/** A ref as stored: the shards of its keys (for forgetting), then the stage's ref. */
function storedRef(s: NearDuplicateSubject): Buffer {
  const shards = [...new Set(s.keys.map((k) => k.readUInt16BE(0)))];
  const head = Buffer.alloc(2 + 2 * shards.length);
  head.writeUInt16BE(shards.length, 0);
  shards.forEach((shard, i) => {
    head.writeUInt16BE(shard, 2 + 2 * i);
  });
  return Buffer.concat([head, s.ref]);
}

const stageRef = (stored: Buffer): Buffer => stored.subarray(2 + 2 * stored.readUInt16BE(0));

/**
 * Adds each subject's identity to its keys, in order, so a later subject sees the earlier ones;
 * returns what scoring the shared keys needs, in one script call per chunk of subjects.
 */
export async function touchNearDuplicateKeys(
  redis: Redis,
  subjects: NearDuplicateSubject[],
  o: { now: number; cap: number; windowMs: number; namespace: string },
): Promise<Touched> {
  const touched: Touched = { shared: [], refs: new Map(), counts: new Map(), population: 0 };
  for (let from = 0; from < subjects.length; from += CHUNK) {
    const args: (Buffer | string | number)[] = [o.now, sliceWidth(o.windowMs), o.windowMs, o.cap, `${o.namespace}:`];
    for (const s of subjects.slice(from, from + CHUNK)) args.push(s.keys.length, s.counters.length, s.identity, storedRef(s), ...s.keys, ...s.counters);
    const [shared, refs, counts, population] = await callRedis('the near-duplicate keys', () => scripted(redis).c360NearDuplicatesBuffer(0, ...args));
    for (const [subject, key, ...others] of shared)
      touched.shared.push({ subject: from + subject - 1, key: key - 1, others: others.map((id) => id.toString('latin1')) });
    // A later chunk read later: what it says of an identity or a counter is the newer.
    for (let i = 0; i < refs.length; i += 2) {
      const ref = refs[i + 1];
      touched.refs.set(refs[i]!.toString('latin1'), ref ? stageRef(ref) : undefined);
    }
    for (let i = 0; i < counts.length; i += 2) touched.counts.set((counts[i] as Buffer).toString('latin1'), Number(counts[i + 1]));
    touched.population = population;
  }
  return touched;
}

/**
 * Removes identities (a forgotten person's, as their pseudonyms) from near-duplicate state: their
 * refs, and them from every blocking key their refs name. State of the earlier layout
 * (`<ns>:ndref:<identity>` naming its `<ns>:nd:` keys, or an index `<ns>:ndkeys:<identity>`)
 * lives until its window ends and is removed too. Returns how many entries and keys it changed.
 */
export async function forgetNearDuplicateIdentities(redis: Redis, namespace: string, identities: string[]): Promise<number> {
  if (identities.length === 0) return 0;
  const changed = await callRedis('the near-duplicate state', () =>
    scripted(redis).c360ForgetNearDuplicates(0, `${namespace}:`, ...identities.map(identityDigest)),
  );
  return changed + (await forgetEarlierLayout(redis, namespace, identities));
}

async function forgetEarlierLayout(redis: Redis, namespace: string, identities: string[]): Promise<number> {
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

/** The blocking keys a stored ref of the earlier layout names; none for a ref that is not one. */
function keysNamedBy(ref: string | null | undefined): string[] {
  if (!ref) return [];
  try {
    const keys = (JSON.parse(ref) as { keys?: unknown }).keys;
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}
