/**
 * The layout of the topology's windowed Redis state: compact hashes instead of a key per entry.
 * Redis spends more on a key (its dict entry, object, expiry entry) than on a short entry of a
 * small hash, which it keeps as one listpack; so every entry lives in a hash bucket,
 * `<prefix><slice>:<shard>`, found from its digest: the first two bytes choose one of 65,536
 * shards, the rest is the field. A slice is half a window of time; an entry goes into the slice of
 * when it is written, and a lookup reads the last three slices, so every entry is found for at
 * least a window. Entries that must end exactly at the window carry their own time (dedup claims).
 *
 * Buckets carry no TTL, which would cost a command per bucket written: a registry (a sorted set
 * of the slices written, scored by when they end, a window after the slice) says which slices a
 * lookup need read, and the scripts delete the buckets of ended slices a bounded share per call.
 *
 * The Lua helpers below are prepended to every script that walks this layout, so the scripts and
 * this module agree on it in one place.
 */
import type { Redis } from 'ioredis';

/** Slices per window: an entry lives between one window and one and a half, and a lookup reads three slices. */
const SLICES_PER_WINDOW = 2;
/** Slices a lookup reads: the current one and the two before it. */
export const LIVE_SLICES = 3;
/** Bytes of a digest that choose its shard; the rest is its field in the bucket. */
const SHARD_BYTES = 2;

export const sliceWidth = (windowMs: number): number => Math.max(1, Math.ceil(windowMs / SLICES_PER_WINDOW));

/** The slice a time falls in. */
export const sliceOf = (at: number, width: number): number => Math.floor(at / width);

/** When the buckets of a slice expire (epoch ms): a window after the slice ends. */
export const sliceExpiry = (slice: number, width: number, windowMs: number): number => (slice + 1) * width + windowMs;

/** The bucket of a digest in a slice, and its field there. */
export function bucketOf(prefix: string, slice: number, digest: Buffer): { key: string; field: Buffer } {
  return { key: `${prefix}${slice}:${digest.readUInt16BE(0)}`, field: digest.subarray(SHARD_BYTES) };
}

/** The longest hash value Redis should keep in a listpack for the layout to stay compact: a near-duplicate ref is about 200 bytes. */
const COMPACT_VALUE_BYTES = 256;

/**
 * What to tell an operator whose Redis keeps hashes with values longer than its
 * `hash-max-listpack-value` as hash tables (64 bytes by default): the state then takes more
 * memory. Undefined when the setting is large enough, or Redis does not say (CONFIG refused).
 */
export async function compactnessAdvice(redis: Redis): Promise<string | undefined> {
  const reply = (await redis.config('GET', 'hash-max-listpack-value').catch(() => [])) as string[];
  const limit = Number(reply[1]);
  if (!Number.isFinite(limit) || limit >= COMPACT_VALUE_BYTES) return undefined;
  return `Redis keeps hashes with values over ${limit} bytes as hash tables: set hash-max-listpack-value ${2 * COMPACT_VALUE_BYTES} for compact near-duplicate state (docs/topology.md, What Redis holds)`;
}

/** Buckets per slice, and how many shards of an ended slice a script call deletes. */
const SHARDS = 2 ** (8 * SHARD_BYTES);
const SWEPT_PER_CALL = 1024;

/**
 * Lua: `shard(digest)`, `field(digest)`, `bucket(prefix, slice, digest)` as above, and
 * `slicePrefixes(prefix, slices)`, each slice's bucket names up to the shard, for the hot loops;
 * `lengthAt(s, from)`, a length writePrefixed wrote, for scripts that take packed records;
 * `liveSlices(registry, t)`, the current slice first, then those of the two before it that were
 * written, and the next one if a worker whose clock is ahead already wrote it;
 * `written(registry, t, endsAt)`, which records slice t; `sweep(registry, prefixes, now)`, which
 * deletes up to SWEPT_PER_CALL shards of every kind (bucket prefix) of the oldest ended slice.
 */
export const SLICED_LUA = `
local function shard(digest) return string.byte(digest, 1) * 256 + string.byte(digest, 2) end
local function field(digest) return string.sub(digest, ${SHARD_BYTES + 1}) end
local function bucket(prefix, slice, digest) return prefix .. slice .. ':' .. shard(digest) end
-- The 4-byte big-endian length at byte 'from' of s (writePrefixed's prefix).
local function lengthAt(s, from)
  local b1, b2, b3, b4 = string.byte(s, from, from + 3)
  return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end
-- Each slice's bucket names up to the shard (prefix .. slice .. ':'), made once per call rather than per entry.
local function slicePrefixes(prefix, slices)
  local out = {}
  for _, s in ipairs(slices) do out[s] = prefix .. s .. ':' end
  return out
end
local function liveSlices(registry, t)
  local written, live = {}, {t}
  for _, s in ipairs(redis.call('ZRANGE', registry, 0, -1)) do written[tonumber(s)] = true end
  for s = t + 1, t - ${LIVE_SLICES - 1}, -1 do if s ~= t and written[s] then live[#live + 1] = s end end
  return live
end
local function written(registry, t, endsAt) redis.call('ZADD', registry, endsAt, t) end
local function sweep(registry, prefixes, now)
  local ended = redis.call('ZRANGEBYSCORE', registry, '-inf', now, 'LIMIT', 0, 1)[1]
  if not ended then return end
  local cursors = registry .. ':swept'
  local from = tonumber(redis.call('HGET', cursors, ended) or 0)
  local to = math.min(from + ${SWEPT_PER_CALL}, ${SHARDS})
  for sh = from, to - 1 do
    local keys = {}
    for _, prefix in ipairs(prefixes) do keys[#keys + 1] = prefix .. ended .. ':' .. sh end
    redis.call('UNLINK', unpack(keys))
  end
  if to < ${SHARDS} then
    redis.call('HSET', cursors, ended, to)
  else
    redis.call('ZREM', registry, ended)
    redis.call('HDEL', cursors, ended)
  end
end
`;

/**
 * Fields packed as (LEB128 length, bytes) each: the compact values of the layout, whose readers
 * know how many fields to expect. A string is its UTF-8; an id in the canonical UUID form takes
 * 17 bytes instead of 36 (0xff, never the first byte of UTF-8, then its 16 bytes).
 */
export function packFields(values: readonly string[]): Buffer {
  // Sized first, then written into one buffer: a Buffer per field and per length would be most of
  // what a record's state costs the garbage collector.
  let size = 0;
  for (const v of values) {
    const n = packedBytes(v);
    size += n + lengthBytes(n);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const v of values) {
    const uuid = isUuid(v);
    let n = uuid ? 17 : Buffer.byteLength(v, 'utf8');
    do {
      out[at++] = (n & 0x7f) | (n >= 0x80 ? 0x80 : 0);
      n >>>= 7;
    } while (n > 0);
    if (uuid) {
      out[at++] = UUID_MARK;
      at += out.write(v.replaceAll('-', ''), at, 'hex');
    } else at += out.write(v, at, 'utf8');
  }
  return out;
}

/**
 * Writes `bytes` (or a string's UTF-8) at `at` after its length in 4 bytes, big-endian; returns
 * where the next write goes. The form packed script arguments and changelog batches share, read
 * back by the scripts' `lengthAt`: no value is too long for it.
 */
export function writePrefixed(out: Buffer, at: number, bytes: Buffer | string): number {
  const n = typeof bytes === 'string' ? out.write(bytes, at + 4) : bytes.copy(out, at + 4);
  out.writeUInt32BE(n, at);
  return at + 4 + n;
}

/** Bytes of n as LEB128. */
function lengthBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n >>>= 7;
    bytes++;
  }
  return bytes;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_MARK = 0xff;
// The length and first dash are checked before the pattern: most fields are not ids.
const isUuid = (v: string): boolean => v.length === 36 && v.charCodeAt(8) === 0x2d && UUID.test(v);
const packedBytes = (v: string): number => (isUuid(v) ? 17 : Buffer.byteLength(v, 'utf8'));

function fieldText(bytes: Buffer, from: number, to: number): string {
  if (to - from !== 17 || bytes[from] !== UUID_MARK) return bytes.toString('utf8', from, to);
  const hex = bytes.toString('hex', from + 1, to);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The fields packFields packed, from `at` on; undefined when the bytes are not such a packing. */
export function unpackFields(bytes: Buffer, at = 0): string[] | undefined {
  const values: string[] = [];
  let i = at;
  while (i < bytes.length) {
    let n = 0;
    let shift = 0;
    let b: number;
    do {
      if (i >= bytes.length || shift > 28) return undefined;
      b = bytes[i++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    if (i + n > bytes.length) return undefined;
    values.push(fieldText(bytes, i, i + n));
    i += n;
  }
  return values;
}
