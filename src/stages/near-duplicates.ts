/**
 * Stage 4: near-duplicate flags for identity resolution. Each record's blocking keys (canonical
 * email, E.164 phone, device id, sound of last name + postal code) map in Redis to a capped,
 * recency-ordered set of the identities seen with that key. A record whose key is shared with a
 * *different* identity still goes to raw, flagged, and a NearDuplicate event names both records.
 * Sets hold identities, not records, so replays and repeat events of one customer add nothing.
 * A key whose set is already full (shared by `nearDuplicateRefsPerKey` identities or more: a shop's
 * tablet, test@example.com) is too common to say anything and raises no flags.
 */
import type { ChainableCommander } from 'ioredis';
import type { Envelope, NearDuplicateEvent, RecordRef } from '../topology/envelope.js';
import { positionOf, refOf } from '../topology/envelope.js';
import { canonicalEmail, jaroWinkler, namePostalKey, normaliseName } from './near-duplicates/keys.js';
import { readPath } from './quality/rule.js';
import type { StageFactory } from './stage.js';

interface Subject {
  e: Envelope;
  identity: string;
  keys: { kind: string; redisKey: string }[];
  ref: RecordRef & { name: string | null };
}

const PIPELINE_SUBJECTS = 2000;

/**
 * Per record, one script call instead of four commands per key: read each key's identities, add
 * this one, trim to the cap, renew the TTL, and store the record's ref. (All keys of a call must
 * live on one node: a plain Redis or a single shard.)
 */
const NEAR_DUPLICATE_SCRIPT = `
local out = {}
for i = 1, #KEYS - 1 do
  out[i] = redis.call('ZRANGE', KEYS[i], 0, -1)
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(tonumber(ARGV[3]) + 1))
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
redis.call('SET', KEYS[#KEYS], ARGV[5], 'PX', ARGV[4])
return out`;

interface NearDupPipeline {
  c360NearDuplicateKeys(numKeys: number, ...keysAndArgs: (string | number)[]): NearDupPipeline;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

export const nearDuplicateStage: StageFactory = (ctx) => {
  const ns = ctx.topology.namespace;
  const windowMs = Math.round(ctx.topology.dedupWindowDays * 86_400_000);
  const cap = ctx.topology.nearDuplicateRefsPerKey;
  ctx.redis.defineCommand('c360NearDuplicateKeys', { lua: NEAR_DUPLICATE_SCRIPT });

  function subjectOf(e: Envelope): Subject | undefined {
    const cfg = e.source.definition.nearDuplicates;
    if (!cfg || !e.value) return undefined;
    const idValue = str(readPath(e.value, cfg.identityField));
    if (!idValue) return undefined;
    const get = (path: string | undefined) => (path ? str(readPath(e.value!, path)) : undefined);
    const keys: Subject['keys'] = [];
    const add = (kind: string, value: string | undefined) => value && keys.push({ kind, redisKey: `${ns}:nd:${kind}:${value}` });
    const email = get(cfg.email);
    add('email', email && canonicalEmail(email));
    add('phone', get(cfg.phone));
    add('device_id', get(cfg.deviceId));
    const last = get(cfg.lastName);
    const postal = get(cfg.postalCode);
    add('name_postal', last && postal ? namePostalKey(last, postal) : undefined);
    if (keys.length === 0) return undefined;
    const first = get(cfg.firstName);
    const name = last ? normaliseName(`${first ?? ''} ${last}`) : null;
    return { e, identity: `${cfg.identityField}=${idValue}`, keys, ref: { ...refOf(e), name } };
  }

  return {
    name: 'near_duplicates',
    async process(batch) {
      const subjects = batch.filter((e) => e.outcome === 'pending').map(subjectOf).filter((s): s is Subject => s !== undefined);
      if (subjects.length === 0) return;

      // Pipeline order means a later record in the batch sees the earlier ones; chunks keep each exec well inside the command timeout.
      const matchesBySubject: Map<string, string[]>[] = [];
      for (let from = 0; from < subjects.length; from += PIPELINE_SUBJECTS) {
        const chunk = subjects.slice(from, from + PIPELINE_SUBJECTS);
        const pipeline = ctx.redis.pipeline() as unknown as NearDupPipeline;
        for (const s of chunk) {
          pipeline.c360NearDuplicateKeys(s.keys.length + 1, ...s.keys.map((k) => k.redisKey), `${ns}:ndref:${s.identity}`, s.identity, ctx.now(), cap, windowMs, JSON.stringify(s.ref));
        }
        const replies = (await (pipeline as unknown as ChainableCommander).exec()) ?? [];
        chunk.forEach((s, j) => {
          const [error, perKey] = replies[j] ?? [new Error('no reply')];
          if (error) throw error;
          const matched = new Map<string, string[]>();
          s.keys.forEach((k, i) => {
            const others = ((perKey as string[][])[i] ?? []).filter((m) => m !== s.identity);
            if (others.length >= cap) return; // too common a key
            for (const other of others) matched.set(other, [...(matched.get(other) ?? []), k.kind]);
          });
          matchesBySubject.push(matched);
        });
      }

      const others = [...new Set(matchesBySubject.flatMap((m) => [...m.keys()]))];
      if (others.length === 0) return;
      const refs = await ctx.redis.mget(others.map((o) => `${ns}:ndref:${o}`));
      const refByIdentity = new Map(others.map((o, j) => [o, refs[j] ? (JSON.parse(refs[j]!) as Subject['ref']) : undefined]));

      const found: [Envelope, NearDuplicateEvent][] = [];
      subjects.forEach((s, j) => {
        for (const [other, kinds] of matchesBySubject[j]!) {
          const matched = refByIdentity.get(other);
          // A ref written by this very record in an earlier, uncommitted attempt is not another record.
          if (!matched || `${matched.topic}/${matched.partition}/${matched.offset}` === positionOf(s.e)) continue;
          const { name: matchedName, ...matchedRef } = matched;
          const { name, ...record } = s.ref;
          found.push([
            s.e,
            {
              kind: 'NEAR_DUPLICATE',
              source: s.e.source.name,
              entity: s.e.source.entity,
              record,
              matched: matchedRef,
              keys: kinds,
              score: name && matchedName ? Math.round(jaroWinkler(name, matchedName) * 1000) / 1000 : null,
              detected_at: ctx.now(),
            },
          ]);
        }
      });
      for (const [e, event] of found) e.nearDuplicates.push(event);
    },
  };
};
