/**
 * The layout of the topology's windowed Redis state: compact hashes instead of a key per entry.
 * Redis spends more on a key (its dict entry, object, expiry entry) than on a short entry of a
 * small hash, which it keeps as one listpack; so every entry lives in a hash bucket,
 * `<prefix><slice>:<shard>`, found from its digest: the first two bytes choose one of 65,536
 * shards, the rest is the field. A slice is half a window of time; an entry goes into the slice of
 * when it is written, and a bucket expires a window after its slice ends, so every entry lives for
 * at least a window and a lookup reads the last three slices. Entries that must end exactly at
 * the window carry their own time (dedup claims).
 *
 * The Lua helpers below are prepended to every script that walks this layout, so the scripts and
 * this module agree on it in one place.
 */

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

/**
 * Lua: `shard(digest)`, `field(digest)`, `bucket(prefix, slice, digest)` as above; `expiring` and
 * `expireAll(at)` collect the buckets a call wrote and give each its expiry once per call.
 */
export const SLICED_LUA = `
local function shard(digest) return string.byte(digest, 1) * 256 + string.byte(digest, 2) end
local function field(digest) return string.sub(digest, ${SHARD_BYTES + 1}) end
local function bucket(prefix, slice, digest) return prefix .. slice .. ':' .. shard(digest) end
local expiring = {}
local function expireAll(at) for key in pairs(expiring) do redis.call('PEXPIREAT', key, at) end end
`;

/**
 * Fields packed as (LEB128 length, bytes) each: the compact values of the layout, whose readers
 * know how many fields to expect. A string is its UTF-8; an id in the canonical UUID form takes
 * 17 bytes instead of 36 (0xff, never the first byte of UTF-8, then its 16 bytes).
 */
export function packFields(values: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) {
    const bytes = UUID.test(v) ? Buffer.concat([UUID_MARK, Buffer.from(v.replaceAll('-', ''), 'hex')]) : Buffer.from(v, 'utf8');
    const length: number[] = [];
    let n = bytes.length;
    do {
      length.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      n >>>= 7;
    } while (n > 0);
    parts.push(Buffer.from(length), bytes);
  }
  return Buffer.concat(parts);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_MARK = Buffer.from([0xff]);

function fieldText(bytes: Buffer, from: number, to: number): string {
  if (to - from !== 17 || bytes[from] !== 0xff) return bytes.toString('utf8', from, to);
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
