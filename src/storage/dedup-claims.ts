/**
 * The dedup stage's claims in Redis, in the sliced layout (sliced-state.ts): `<ns>:dd:<slice>:<shard>`
 * hashes (`<ns>:dd:slices` their registry) whose field is a claim's digest and whose value is the claim: a version byte, when it was
 * made (epoch seconds, so it ends exactly a window later), then the stage's own bytes. One Lua
 * script call per chunk of a batch: ioredis spends several times more CPU per pipelined command
 * than per record inside one script call. Every key of a call must live on one node (a plain Redis
 * or one shard), which is why Redis Cluster is not supported.
 *
 * Claims of the earlier layout (a string key per claim, `<ns>:dedup:…`) are read where a digest
 * finds nothing, until they expire with their window.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { callRedis, StateLostError } from './redis.js';
import { bucketOf, SLICED_LUA, sliceExpiry, sliceOf, sliceWidth, writePrefixed } from './sliced-state.js';

/** Bytes of a claim's digest: 2 of shard, 10 of field. */
export const CLAIM_DIGEST_BYTES = 12;
const VERSION = 1;
const HEAD = 5;

/** Records per script call: bounds both the reply size and how long one call holds Redis. */
const CHUNK = 4000;

/**
 * KEYS[1]: the state's epoch marker (state-changelog.ts). ARGV: now, slice width, window, the
 * buckets' prefix, then the records packed in one string (packClaims): per record its digest, its
 * claim and its key in the earlier layout. A
 * claim younger than the window in a live slice is the record's previous one; else the earlier
 * layout's; else the record claims it now, in the current slice. Returns the epoch, then each
 * record's previous claim or nil; refuses (C360LOST) when the marker is gone, since every claim
 * would then look new.
 */
const CLAIM = `${SLICED_LUA}
local epoch = redis.call('GET', KEYS[1])
if not epoch then return redis.error_reply('C360LOST the dedup state is not in Redis') end
local now, width, window, p = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local t = math.floor(now / width)
local registry = p .. 'slices'
local live = liveSlices(registry, t)
local bucketAt = slicePrefixes(p, live)
local young = math.floor(now / 1000) - window / 1000
local out = {epoch}
local packed, at = ARGV[5], 1
while at <= #packed do
  -- Per record: its digest, its claim's length (4 bytes) and claim, its earlier key's length (4 bytes) and key.
  local d = string.sub(packed, at, at + ${CLAIM_DIGEST_BYTES - 1})
  local claimAt = at + ${CLAIM_DIGEST_BYTES + 4}
  local legacyAt = claimAt + lengthAt(packed, at + ${CLAIM_DIGEST_BYTES}) + 4
  at = legacyAt + lengthAt(packed, legacyAt - 4)
  local f, sh = field(d), shard(d)
  local previous = false
  for _, s in ipairs(live) do
    local v = redis.call('HGET', bucketAt[s] .. sh, f)
    -- The claim's time: seconds in bytes 2 to 5, after the version.
    if v and ((string.byte(v, 2) * 256 + string.byte(v, 3)) * 256 + string.byte(v, 4)) * 256 + string.byte(v, 5) > young then
      previous = v
      break
    end
  end
  if not previous then previous = redis.call('GET', string.sub(packed, legacyAt, at - 1)) end
  if not previous then redis.call('HSET', bucketAt[t] .. sh, f, string.sub(packed, claimAt, legacyAt - 5)) end
  out[#out + 1] = previous
end
written(registry, t, (t + 1) * width + window)
sweep(registry, {p}, now)
return out`;

interface ScriptedRedis {
  c360ClaimBuffer(numKeys: number, ...keysAndArgs: (Buffer | string | number)[]): Promise<(Buffer | null)[]>;
}

const defined = new WeakSet<Redis>();

function scripted(redis: Redis): ScriptedRedis {
  if (!defined.has(redis)) {
    redis.defineCommand('c360Claim', { lua: CLAIM });
    defined.add(redis);
  }
  return redis as unknown as ScriptedRedis;
}

/** A claim as stored: the version, when it is made, then the stage's bytes. */
export function claimValue(claimedAt: number, body: Buffer): Buffer {
  const head = Buffer.alloc(HEAD);
  head[0] = VERSION;
  head.writeUInt32BE(Math.floor(claimedAt / 1000), 1);
  return Buffer.concat([head, body]);
}

/** The stage's bytes of a stored claim, or undefined when it is a claim of the earlier layout (a string). */
export const claimBody = (stored: Buffer): Buffer | undefined => (stored[0] === VERSION ? stored.subarray(HEAD) : undefined);

export interface ClaimRequest {
  digest: Buffer;
  claim: Buffer;
  /** The claim's key in the earlier layout. */
  legacyKey: string;
}

/**
 * The requests in one buffer, as the claim script reads them: one argument per call rather than
 * three per record, which cost the client and Redis more than the script's own work on them.
 */
function packClaims(requests: ClaimRequest[]): Buffer {
  let size = 0;
  for (const r of requests) size += CLAIM_DIGEST_BYTES + 4 + r.claim.length + 4 + Buffer.byteLength(r.legacyKey);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const r of requests) {
    at += r.digest.copy(out, at, 0, CLAIM_DIGEST_BYTES);
    at = writePrefixed(out, at, r.claim);
    at = writePrefixed(out, at, r.legacyKey);
  }
  return out;
}

/**
 * Claims every digest, in order: the previous claim of each, or null where this call claimed it;
 * and the state's epoch they were made under. StateLostError when the state's marker is gone.
 */
export async function claimAll(
  redis: Redis,
  o: { marker: string; prefix: string; now: number; windowMs: number },
  requests: ClaimRequest[],
): Promise<{ epoch: string; previous: (Buffer | null)[] }> {
  const previous: (Buffer | null)[] = [];
  let epoch: string | undefined;
  for (let from = 0; from < requests.length; from += CHUNK) {
    const args = [o.marker, o.now, sliceWidth(o.windowMs), o.windowMs, o.prefix, packClaims(requests.slice(from, from + CHUNK))];
    const [at, ...replies] = await callRedis('the dedup claims', () => scripted(redis).c360ClaimBuffer(1, ...args));
    const now = at!.toString();
    if (epoch !== undefined && now !== epoch) throw new StateLostError('redis', 'Redis lost the dedup state between two calls of one batch');
    epoch = now;
    previous.push(...replies);
  }
  return { epoch: epoch ?? '', previous };
}

/** Queues a claim read back from its changelog: into the slice of when it was made, or under its key of the earlier layout. */
export function restoreClaim(
  pipeline: ChainableCommander,
  o: { prefix: string; legacyPrefix: string; windowMs: number },
  entry: { key: Buffer; value: Buffer; expiresAt: number },
): void {
  if (entry.key.toString('latin1').startsWith(o.legacyPrefix)) {
    pipeline.set(entry.key, entry.value, 'PXAT', entry.expiresAt);
    return;
  }
  const width = sliceWidth(o.windowMs);
  const slice = sliceOf(entry.expiresAt - o.windowMs, width);
  const { key, field } = bucketOf(o.prefix, slice, entry.key);
  pipeline.hset(key, field, entry.value);
  pipeline.zadd(`${o.prefix}slices`, sliceExpiry(slice, width, o.windowMs), slice);
}
