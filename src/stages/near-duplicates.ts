/**
 * Stage 4: near-duplicate flags for identity resolution. Each record's blocking keys (canonical
 * email, E.164 phone, device id, sound of last name + postal code) map in Redis to a capped,
 * recency-ordered set of the identities seen with that key. A record whose key is shared with a
 * *different* identity still goes to raw, flagged, and a NearDuplicate event names both records.
 * Sets hold identities, not records, so replays and repeat events of one customer add nothing.
 * A key whose set is already full (shared by `nearDuplicateRefsPerKey` identities or more: a shop's
 * tablet, test@example.com) is too common to say anything and raises no flags.
 */

import { ConfigError } from '../contracts/errors.js';
import type { NearDuplicateEvent, RecordRef } from '../contracts/near-duplicate.js';
import { canonicalEmail, canonicalIdentifier } from '../privacy/identifiers.js';
import type { Pseudonyms } from '../privacy/pseudonyms.js';
import { RecordPrivacy } from '../privacy/records.js';
import { readPath } from '../schema/field-path.js';
import { touchNearDuplicateKeys } from '../storage/redis-scripts.js';
import type { Envelope } from './envelope.js';
import { positionOf, refOf } from './envelope.js';
import { jaroWinkler, namePostalKey, normaliseName } from './near-duplicates/keys.js';
import { defineStage } from './stage.js';

interface Subject {
  e: Envelope;
  identity: string;
  keys: { kind: string; redisKey: string }[];
  ref: RecordRef & { name: string | null };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

function missingKey(): never {
  throw new ConfigError('C360_PII_KEY is not set: the near-duplicate stage keeps personal values in Redis only as keyed hashes and needs the secret.');
}

export const nearDuplicateStage = defineStage({
  name: 'near_duplicates',
  description:
    'Flags records that share a blocking key (canonical email, E.164 phone, device id, last-name sound + postal code) with a different identity, for identity resolution; they still land.',
  requires: ['decode'],
  create: (ctx) => {
    const ns = ctx.topology.namespace;
    const windowMs = Math.round(ctx.topology.dedupWindowDays * 86_400_000);
    const cap = ctx.topology.nearDuplicateRefsPerKey;
    // Blocking keys and stored names are personal: Redis holds only their pseudonyms and sealed copies.
    const pseudonyms: Pseudonyms = ctx.pseudonyms ?? missingKey();
    const identities = new RecordPrivacy(pseudonyms);

    function subjectOf(e: Envelope): Subject | undefined {
      const cfg = e.entity.definition.nearDuplicates;
      if (!cfg || !e.value) return undefined;
      // The identity is the pseudonym the privacy tools know the person by, so forgetting them reaches Redis too.
      const identity = identities.identifierAt(e.entity, cfg.identityField, readPath(e.value, cfg.identityField));
      if (!identity) return undefined;
      const get = (path: string | undefined) => (path ? str(readPath(e.value!, path)) : undefined);
      const keys: Subject['keys'] = [];
      const add = (kind: string, value: string | undefined) => value && keys.push({ kind, redisKey: `${ns}:nd:${kind}:${pseudonyms.of(kind, value)}` });
      const email = get(cfg.email);
      add('email', email && canonicalEmail(email));
      add('phone', canonicalIdentifier('phone', get(cfg.phone)));
      add('device_id', canonicalIdentifier('device', get(cfg.deviceId)));
      const last = get(cfg.lastName);
      const postal = get(cfg.postalCode);
      add('name_postal', last && postal ? namePostalKey(last, postal) : undefined);
      if (keys.length === 0) return undefined;
      const first = get(cfg.firstName);
      const name = last ? normaliseName(`${first ?? ''} ${last}`) : null;
      return { e, identity, keys, ref: { ...refOf(e), name: name === null ? null : pseudonyms.seal(name) } };
    }

    return {
      async process(batch) {
        const subjects = batch
          .filter((e) => e.outcome === 'pending')
          .map(subjectOf)
          .filter((s): s is Subject => s !== undefined);
        if (subjects.length === 0) return;

        // One script call per chunk; in order, so a later record in the batch sees the earlier ones.
        const shared = await touchNearDuplicateKeys(
          ctx.redis,
          subjects.map((s) => ({
            keys: s.keys.map((k) => k.redisKey),
            refKey: `${ns}:ndref:${s.identity}`,
            indexKey: `${ns}:ndkeys:${s.identity}`,
            identity: s.identity,
            ref: JSON.stringify(s.ref),
          })),
          ctx.now(),
          cap,
          windowMs,
        );
        if (shared.length === 0) return;
        // Per subject, the other identities it shares keys with, and which keys.
        const matchesBySubject = new Map<number, Map<string, string[]>>();
        for (const { subject, key, others } of shared) {
          let matched = matchesBySubject.get(subject);
          if (!matched) matchesBySubject.set(subject, (matched = new Map()));
          for (const other of others) matched.set(other, [...(matched.get(other) ?? []), subjects[subject]!.keys[key]!.kind]);
        }

        const others = [...new Set(shared.flatMap((m) => m.others))];
        const refs = await ctx.redis.mget(others.map((o) => `${ns}:ndref:${o}`));
        const refByIdentity = new Map(others.map((o, j) => [o, refs[j] ? (JSON.parse(refs[j]!) as Subject['ref']) : undefined]));

        const scoreOf = (sealed: string | null, matchedSealed: string | null): number | null => {
          const a = sealed === null ? undefined : pseudonyms.open(sealed);
          const b = matchedSealed === null ? undefined : pseudonyms.open(matchedSealed);
          return a && b ? Math.round(jaroWinkler(a, b) * 1000) / 1000 : null;
        };
        const found: [Envelope, NearDuplicateEvent][] = [];
        for (const [j, sharedWith] of matchesBySubject) {
          const s = subjects[j]!;
          for (const [other, kinds] of sharedWith) {
            const matched = refByIdentity.get(other);
            // A ref written by this very record in an earlier, uncommitted attempt is not another record.
            if (!matched || `${matched.topic}/${matched.partition}/${matched.offset}` === positionOf(s.e)) continue;
            const { name: matchedName, ...matchedRef } = matched;
            const { name, ...record } = s.ref;
            found.push([
              s.e,
              {
                kind: 'NEAR_DUPLICATE',
                source: s.e.entity.source,
                entity: s.e.entity.name,
                record,
                matched: matchedRef,
                keys: kinds,
                score: scoreOf(name, matchedName),
                detected_at: ctx.now(),
              },
            ]);
          }
        }
        for (const [e, event] of found) e.nearDuplicates.push(event);
      },
    };
  },
});
