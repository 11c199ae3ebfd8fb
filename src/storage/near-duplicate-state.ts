/**
 * The near-duplicate stage's state in Redis, in the sliced layout (sliced-state.ts), as binary:
 *
 * - `<ns>:nb:<slice>:<shard>` blocking keys: field, a key's digest; value, the identities seen
 *   with it in that slice (10 bytes each, oldest first, at most the cap);
 * - `<ns>:nr:<slice>:<shard>` refs: field, an identity; value, the digests of every blocking key
 *   it was stored under in the window (so forgetting it finds them), then the stage's sealed ref;
 * - `<ns>:ntf:<slice>:<shard>` term-frequency counters: identities per name digest, and under
 *   `all` in shard 0, identities in all; each identity counted in the slices it appears in;
 * - `<ns>:nd:slices`: the registry of slices written (sliced-state.ts), which forgetting reads
 *   too; `<ns>:nd:epoch`, the state's marker (state-changelog.ts).
 *
 * Digests and identities are truncated HMACs (Pseudonyms.digest); the ref is sealed: no personal
 * value in keys or values. What an identity holds in a slice is also written to the changelog,
 * keyed by identity and slice, whenever it gains a key there: a Redis that lost the state is
 * rebuilt from it, and forgetting the identity writes tombstones over those keys.
 */
import type { Redis } from 'ioredis';
import { callRedis, redisFailure } from './redis.js';
import { LIVE_SLICES, SLICED_LUA, sliceExpiry, sliceOf, sliceWidth, writePrefixed } from './sliced-state.js';
import { type ChangelogEntry, changelogValue, type Restorer } from './state-changelog.js';

/** Bytes of an identity and of a blocking key's or name's digest: 2 of shard, 8 of field. */
export const DIGEST_BYTES = 10;

/** An identity's compact form, from the pseudonym the privacy tools know it by. */
export const identityDigest = (identity: string): Buffer => Buffer.from(identity, 'base64url').subarray(0, DIGEST_BYTES);

/** Records per script call: bounds both the reply size and how long one call holds Redis. */
const CHUNK = 4000;

/**
 * Per record, in order (so a later record sees the earlier ones): reads the identities of each of
 * its blocking keys in the live slices, adds its own to the current slice's (oldest dropped past
 * the cap), stores its ref in the current slice (with the keys of its earlier ref), and counts its
 * names when it is new to the slice. KEYS[1]: the marker. ARGV: now, slice width, window, cap,
 * prefix, rebuilding (1: the marker is not asked for, and nothing is read back), then the records
 * packed in one string (packSubjects): one argument, not several per record, which costs the client
 * and Redis more than the script's own work on them.
 *
 * Returns, in the one round trip: the epoch; the keys shared with other identities (fewer than
 * the cap of them), as {record, key, identity...} (1-based within the call); the refs of those
 * identities, as {identity, ref...}; the counters of the records that share a key, summed over
 * the live slices, as {digest, count...}; the identities in all; and the records whose identity
 * gained a key in the slice, with the ref it holds there now where it is not the one sent, as
 * {record, ref or nil...}.
 */
const NEAR_DUPLICATES = `${SLICED_LUA}
local now, width, window, cap, p, rebuilding = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6] == '1'
local epoch = redis.call('GET', KEYS[1])
if not epoch and not rebuilding then return redis.error_reply('C360LOST the near-duplicate state is not in Redis') end
local ID = ${DIGEST_BYTES}
local t = math.floor(now / width)
local registry = p .. 'nd:slices'
local live = liveSlices(registry, t)
local nb, nr, ntf = slicePrefixes(p .. 'nb:', live), slicePrefixes(p .. 'nr:', live), slicePrefixes(p .. 'ntf:', live)
-- The identities in all of a slice: a field no digest can be, in its counters' first bucket.
local ALL, allBucket = 'all', p .. 'ntf:' .. t .. ':0'
local function keysOf(v)
  local n = string.byte(v, 1) * 256 + string.byte(v, 2)
  local list = {}
  for j = 0, n - 1 do list[#list + 1] = string.sub(v, 3 + ID * j, 2 + ID * (j + 1)) end
  return list
end
-- The new ref with the keys of the earlier one added, and whether the new one brings a key the earlier lacked.
local function merged(ref, known)
  if not known then return ref, true end
  local mine, theirs, has, had = keysOf(ref), keysOf(known), {}, {}
  for _, k in ipairs(mine) do has[k] = true end
  for _, k in ipairs(theirs) do had[k] = true end
  local gained = false
  for _, k in ipairs(mine) do if not had[k] then gained = true end end
  local extra = {}
  for _, k in ipairs(theirs) do if not has[k] then extra[#extra + 1] = k end end
  if #extra == 0 then return ref, gained end
  local n = #mine + #extra
  return string.char(math.floor(n / 256), n % 256) .. table.concat(mine) .. table.concat(extra) .. string.sub(ref, 3 + ID * #mine), gained
end
local out, sharing, counted, fresh = {}, {}, {}, {}
local packed, at, r = ARGV[7], 1, 0
-- The digest that starts at byte 'from' of the packed records.
local function digestAt(from) return string.sub(packed, from, from + ID - 1) end
while at <= #packed do
  r = r + 1
  -- Per record: its numbers of keys and of counters, its identity, its ref after its length, its keys, its counters.
  local nk, nc = string.byte(packed, at, at + 1)
  local identity = digestAt(at + 2)
  local refAt = at + 6 + ID
  local keysAt = refAt + lengthAt(packed, at + 2 + ID)
  local ref = string.sub(packed, refAt, keysAt - 1)
  local countersAt = keysAt + ID * nk
  at = countersAt + ID * nc
  for j = 1, nk do
    local d = digestAt(keysAt + ID * (j - 1))
    local f, sh = field(d), shard(d)
    -- Most keys are new: their lists and tables are made only when some slice holds the key.
    local others, seen, current = nil, nil, ''
    for i, s in ipairs(live) do
      local v = redis.call('HGET', nb[s] .. sh, f)
      if v then
        if i == 1 then current = v end
        others, seen = others or {}, seen or {}
        for q = 1, #v, ID do
          local id = string.sub(v, q, q + ID - 1)
          if id ~= identity and not seen[id] then
            seen[id] = true
            others[#others + 1] = id
          end
        end
      end
    end
    if others and #others > 0 and #others < cap and not rebuilding then
      local match = {r, j}
      for _, id in ipairs(others) do match[#match + 1] = id end
      out[#out + 1] = match
      sharing[r] = {countersAt, nc}
    end
    -- The current slice's list without this identity, oldest dropped to make room, then this identity last.
    local list = identity
    if current ~= '' then
      local kept = {}
      for q = 1, #current, ID do
        local id = string.sub(current, q, q + ID - 1)
        if id ~= identity then kept[#kept + 1] = id end
      end
      while #kept >= cap do table.remove(kept, 1) end
      kept[#kept + 1] = identity
      list = table.concat(kept)
    end
    redis.call('HSET', nb[t] .. sh, f, list)
  end
  local refShard, refField = shard(identity), field(identity)
  local refKey = nr[t] .. refShard
  local known = redis.call('HGET', refKey, refField)
  local newToSlice = not known
  for i = 2, #live do
    if known then break end
    known = redis.call('HGET', nr[live[i]] .. refShard, refField)
  end
  local value, gained = merged(ref, known)
  redis.call('HSET', refKey, refField, value)
  if newToSlice or gained then
    fresh[#fresh + 1] = r
    -- The caller has the ref it sent: it gets one back only when the earlier ref's keys were added.
    fresh[#fresh + 1] = value ~= ref and value
  end
  if newToSlice then
    counted[ALL] = (counted[ALL] or 0) + 1
    for c = 0, nc - 1 do
      local d = digestAt(countersAt + ID * c)
      counted[d] = (counted[d] or 0) + 1
    end
  end
end
-- Counted only after every record, so counting changes nothing any record of the call sees.
for d, n in pairs(counted) do
  if d == ALL then redis.call('HINCRBY', allBucket, ALL, n) else redis.call('HINCRBY', ntf[t] .. shard(d), field(d), n) end
end
written(registry, t, (t + 1) * width + window)
sweep(registry, {p .. 'nb:', p .. 'nr:', p .. 'ntf:'}, now)
local refs, counts, done = {}, {}, {}
for _, m in ipairs(out) do
  for i = 3, #m do
    local id = m[i]
    if not done[id] then
      done[id] = true
      local v = false
      for _, s in ipairs(live) do
        v = redis.call('HGET', nr[s] .. shard(id), field(id))
        if v then break end
      end
      refs[#refs + 1] = id
      refs[#refs + 1] = v
    end
  end
end
for _, range in pairs(sharing) do
  for c = 0, range[2] - 1 do
    local d = digestAt(range[1] + ID * c)
    if not done[d] then
      done[d] = true
      local n = 0
      for _, s in ipairs(live) do n = n + tonumber(redis.call('HGET', ntf[s] .. shard(d), field(d)) or 0) end
      counts[#counts + 1] = d
      counts[#counts + 1] = n
    end
  end
end
local population = 0
for _, s in ipairs(live) do population = population + tonumber(redis.call('HGET', p .. 'ntf:' .. s .. ':0', ALL) or 0) end
return {epoch or '', out, refs, counts, population, fresh}`;

/**
 * Removes identities from the state: their refs in every slice that may hold one, and them from
 * every blocking key those refs name. ARGV: prefix, then the identities. Returns the entries changed.
 */
const FORGET = `${SLICED_LUA}
local p, ID = ARGV[1], ${DIGEST_BYTES}
local slices = redis.call('ZRANGE', p .. 'nd:slices', 0, -1)
local changed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local keys = {}
  for _, s in ipairs(slices) do
    local key = bucket(p .. 'nr:', s, id)
    local v = redis.call('HGET', key, field(id))
    if v then
      local n = string.byte(v, 1) * 256 + string.byte(v, 2)
      for j = 0, n - 1 do keys[string.sub(v, 3 + ID * j, 2 + ID * (j + 1))] = true end
      redis.call('HDEL', key, field(id))
      changed = changed + 1
    end
  end
  for d in pairs(keys) do
    for _, s in ipairs(slices) do
      local key = bucket(p .. 'nb:', s, d)
      local v = redis.call('HGET', key, field(d))
      if v then
        local kept, found = {}, false
        for q = 1, #v, ID do
          local x = string.sub(v, q, q + ID - 1)
          if x == id then found = true else kept[#kept + 1] = x end
        end
        if found then
          if #kept == 0 then redis.call('HDEL', key, field(d)) else redis.call('HSET', key, field(d), table.concat(kept)) end
          changed = changed + 1
        end
      end
    end
  end
end
return changed`;

type Touch = [Buffer, [number, number, ...Buffer[]][], (Buffer | null)[], (Buffer | number)[], number, (number | Buffer | null)[]];

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

/** What touching the keys found, and what of it goes to the changelog. */
export interface Touched {
  epoch: string;
  /** The keys shared with other identities. */
  shared: KeyMatch[];
  /** By identity (latin1 of its digest): its latest ref, or undefined when it is gone. */
  refs: Map<string, Buffer | undefined>;
  /** By name digest (latin1): identities with that name; and the identities in all. */
  counts: Map<string, number>;
  population: number;
  /** Changelog entries of the subjects whose identity gained a key in the slice. */
  changes: { subject: number; key: Buffer; value: Buffer }[];
}

/** A ref as stored: the digests of its keys (each once), then the stage's ref. */
function storedRef(s: NearDuplicateSubject): Buffer {
  // A handful of keys: comparing them with each other is cheaper than a Map of their texts.
  const keys = s.keys.filter((k, i) => s.keys.findIndex((other) => other.equals(k)) === i);
  const out = Buffer.allocUnsafe(2 + DIGEST_BYTES * keys.length + s.ref.length);
  out.writeUInt16BE(keys.length, 0);
  for (const [j, k] of keys.entries()) k.copy(out, 2 + DIGEST_BYTES * j);
  s.ref.copy(out, 2 + DIGEST_BYTES * keys.length);
  return out;
}

const keysOfStored = (stored: Buffer): Buffer[] =>
  Array.from({ length: stored.readUInt16BE(0) }, (_, j) => stored.subarray(2 + DIGEST_BYTES * j, 2 + DIGEST_BYTES * (j + 1)));

const stageRef = (stored: Buffer): Buffer => stored.subarray(2 + DIGEST_BYTES * stored.readUInt16BE(0));

/** A changelog entry's key: the identity and the slice. */
function changelogKey(identity: Buffer, slice: number): Buffer {
  const key = Buffer.alloc(DIGEST_BYTES + 4);
  identity.copy(key);
  key.writeUInt32BE(slice, DIGEST_BYTES);
  return key;
}

/** A changelog entry's value (after its expiry): its counters' digests, then the ref as stored. */
function changelogEntry(counters: Buffer[], stored: Buffer): Buffer {
  return Buffer.concat([Buffer.from([counters.length]), ...counters, stored]);
}

export interface TouchOptions {
  now: number;
  cap: number;
  windowMs: number;
  namespace: string;
  marker: string;
}

function touchArgs(subjects: NearDuplicateSubject[], stored: Buffer[], o: TouchOptions, rebuilding: boolean): (Buffer | string | number)[] {
  return [o.marker, o.now, sliceWidth(o.windowMs), o.windowMs, o.cap, `${o.namespace}:`, rebuilding ? 1 : 0, packSubjects(subjects, stored)];
}

/**
 * The subjects in one buffer, as the script reads them: per subject, its numbers of keys and of
 * counters (a byte each), its identity, the stored ref after its length (writePrefixed), its keys'
 * digests, its counters' digests.
 */
function packSubjects(subjects: NearDuplicateSubject[], stored: Buffer[]): Buffer {
  let size = 0;
  for (const [i, s] of subjects.entries()) size += 6 + DIGEST_BYTES * (1 + s.keys.length + s.counters.length) + stored[i]!.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [i, s] of subjects.entries()) {
    const ref = stored[i]!;
    out[at++] = s.keys.length;
    out[at++] = s.counters.length;
    at += s.identity.copy(out, at);
    at = writePrefixed(out, at, ref);
    for (const k of s.keys) at += k.copy(out, at);
    for (const c of s.counters) at += c.copy(out, at);
  }
  return out;
}

/**
 * Adds each subject's identity to its keys, in order, so a later subject sees the earlier ones;
 * returns what scoring the shared keys needs and the changelog entries, in one script call per
 * chunk of subjects. StateLostError when the state's marker is gone.
 */
export async function touchNearDuplicateKeys(redis: Redis, subjects: NearDuplicateSubject[], o: TouchOptions): Promise<Touched> {
  const touched: Touched = { epoch: '', shared: [], refs: new Map(), counts: new Map(), population: 0, changes: [] };
  const width = sliceWidth(o.windowMs);
  const slice = sliceOf(o.now, width);
  const expiresAt = sliceExpiry(slice, width, o.windowMs);
  for (let from = 0; from < subjects.length; from += CHUNK) {
    const chunk = subjects.slice(from, from + CHUNK);
    const stored = chunk.map(storedRef);
    const [epoch, shared, refs, counts, population, fresh] = await callRedis('the near-duplicate keys', () =>
      scripted(redis).c360NearDuplicatesBuffer(1, ...touchArgs(chunk, stored, o, false)),
    );
    touched.epoch = epoch.toString();
    for (const [subject, key, ...others] of shared)
      touched.shared.push({ subject: from + subject - 1, key: key - 1, others: others.map((id) => id.toString('latin1')) });
    // A later chunk read later: what it says of an identity or a counter is the newer.
    for (let i = 0; i < refs.length; i += 2) {
      const ref = refs[i + 1];
      touched.refs.set(refs[i]!.toString('latin1'), ref ? stageRef(ref) : undefined);
    }
    for (let i = 0; i < counts.length; i += 2) touched.counts.set((counts[i] as Buffer).toString('latin1'), Number(counts[i + 1]));
    touched.population = population;
    for (let i = 0; i < fresh.length; i += 2) {
      const j = (fresh[i] as number) - 1;
      const s = chunk[j]!;
      const value = changelogValue(expiresAt, changelogEntry(s.counters, (fresh[i + 1] as Buffer | null) ?? stored[j]!));
      touched.changes.push({ subject: from + (fresh[i] as number) - 1, key: changelogKey(s.identity, slice), value });
    }
  }
  return touched;
}

/**
 * What rebuilds the state from its changelog: each entry's identity added again to its keys and
 * counters, in the slice it was written in, through the same script; identities whose entries were
 * tombstoned (forgotten) removed once every entry is in.
 */
export function nearDuplicateRestorer(redis: Redis, o: Omit<TouchOptions, 'now'>): Restorer {
  const width = sliceWidth(o.windowMs);
  let bySlice = new Map<number, NearDuplicateSubject[]>();
  const forgotten = new Set<string>();
  return {
    restore(entry: ChangelogEntry) {
      const slice = entry.key.readUInt32BE(DIGEST_BYTES);
      const n = entry.value[0]!;
      const counters = Array.from({ length: n }, (_, i) => entry.value.subarray(1 + DIGEST_BYTES * i, 1 + DIGEST_BYTES * (i + 1)));
      const stored = entry.value.subarray(1 + DIGEST_BYTES * n);
      const subject = { identity: entry.key.subarray(0, DIGEST_BYTES), keys: keysOfStored(stored), counters, ref: stageRef(stored) };
      let subjects = bySlice.get(slice);
      if (!subjects) bySlice.set(slice, (subjects = []));
      subjects.push(subject);
    },
    forget(key: Buffer) {
      forgotten.add(key.subarray(0, DIGEST_BYTES).toString('base64url'));
    },
    async flush() {
      const calls: Promise<unknown>[] = [];
      // Sent at once, in order on the one connection, before anything is awaited.
      for (const [slice, subjects] of bySlice) {
        for (let from = 0; from < subjects.length; from += CHUNK) {
          const chunk = subjects.slice(from, from + CHUNK);
          const args = touchArgs(chunk, chunk.map(storedRef), { ...o, now: slice * width }, true);
          calls.push(scripted(redis).c360NearDuplicatesBuffer(1, ...args));
        }
      }
      bySlice = new Map();
      if (forgotten.size > 0)
        calls.push(
          forgetDigests(
            redis,
            o.namespace,
            [...forgotten].map((id) => Buffer.from(id, 'base64url')),
          ),
        );
      await Promise.all(calls);
    },
  };
}

async function forgetDigests(redis: Redis, namespace: string, identities: Buffer[]): Promise<number> {
  return await callRedis('the near-duplicate state', () => scripted(redis).c360ForgetNearDuplicates(0, `${namespace}:`, ...identities));
}

/**
 * Removes identities (a forgotten person's, as their pseudonyms) from near-duplicate state: their
 * refs, and them from every blocking key their refs name. State of the earlier layout
 * (`<ns>:ndref:<identity>` naming its `<ns>:nd:` keys, or an index `<ns>:ndkeys:<identity>`)
 * lives until its window ends and is removed too. Returns how many entries and keys it changed,
 * and the changelog keys whose tombstones forget them there: the identity in every slice a window
 * and a half back, and the one after.
 */
export async function forgetNearDuplicateIdentities(
  redis: Redis,
  o: { namespace: string; windowMs: number; now: number },
  identities: string[],
): Promise<{ changed: number; tombstones: Buffer[] }> {
  if (identities.length === 0) return { changed: 0, tombstones: [] };
  const digests = identities.map(identityDigest);
  const changed = (await forgetDigests(redis, o.namespace, digests)) + (await forgetEarlierLayout(redis, o.namespace, identities));
  const t = sliceOf(o.now, sliceWidth(o.windowMs));
  const slices = Array.from({ length: LIVE_SLICES + 2 }, (_, i) => t + 1 - i);
  return { changed, tombstones: digests.flatMap((d) => slices.map((s) => changelogKey(d, s))) };
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
