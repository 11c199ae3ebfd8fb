/**
 * Stage 4: near-duplicate flags for identity resolution, Splink's real-time way. Blocking keys
 * (canonical email, E.164 phone, device id, last-name sound + postal code, first-name sound +
 * birth date) map in Redis to a capped, recency-ordered set of the identities seen with them; each
 * *other* identity sharing a key is a candidate. The candidate's comparison profile (sealed in
 * Redis) is scored against the new record's with the topology's Fellegi–Sunter model, and a
 * NearDuplicate event is emitted only at or above the match-probability threshold; candidates
 * below it are counted, not emitted. The record lands either way.
 * Sets hold identities, not records, so replays and repeat events of one customer add nothing.
 * A key whose set is already full (shared by `nearDuplicateRefsPerKey` identities or more: a shop's
 * tablet, test@example.com) is too common to say anything and finds no candidates.
 */

import { ConfigError } from '../contracts/errors.js';
import type { NearDuplicateEvent, RecordRef } from '../contracts/near-duplicate.js';
import type { BlockingKey } from '../contracts/topology-definition.js';
import { BLOCKING_RULES } from '../matching/blocking.js';
import { type ComparisonProfile, profileOfRecord } from '../matching/comparisons.js';
import { DEFAULT_MODEL, scorePair, type TermFrequency } from '../matching/model.js';
import { jaroWinkler } from '../matching/similarity.js';
import type { Pseudonyms } from '../privacy/pseudonyms.js';
import { RecordPrivacy } from '../privacy/records.js';
import { readPath } from '../schema/field-path.js';
import { type KeyMatch, type Touched, touchNearDuplicateKeys } from '../storage/redis-scripts.js';
import type { Envelope } from './envelope.js';
import { positionOf, refOf } from './envelope.js';
import { defineStage } from './stage.js';

/**
 * What an identity's ref in Redis holds: where its latest record is, its comparison profile
 * (sealed), and its blocking keys, so that forgetting the identity finds every key that names it.
 */
interface StoredRef extends RecordRef {
  profile: string;
  /** Its blocking keys, without their `<ns>:nd:` prefix. */
  keys: string[];
}

interface Subject {
  e: Envelope;
  identity: string;
  profile: ComparisonProfile;
  keys: { kind: BlockingKey; redisKey: string }[];
  /** Its names' term-frequency counters. */
  counters: Partial<Record<CountedField, string>>;
  ref: StoredRef;
}

/** Term-frequency counters: identities in the window per first and last name, and in all. */
const COUNTED = ['first_name', 'last_name'] as const;
type CountedField = (typeof COUNTED)[number];
/** Below this many identities in the window, observed name frequencies are noise and are not used. */
const TF_MIN_IDENTITIES = 1000;

function missingKey(): never {
  throw new ConfigError('C360_PII_KEY is not set: the near-duplicate stage keeps personal values in Redis only as keyed hashes and needs the secret.');
}

const fullName = (p: ComparisonProfile) => (p.last_name ? `${p.first_name ?? ''} ${p.last_name}`.trim() : undefined);

export const nearDuplicateStage = defineStage({
  name: 'near_duplicates',
  description:
    'Scores records that share a blocking key with a different identity (Fellegi–Sunter match probability) and emits a NearDuplicate at or above the threshold, for identity resolution; they still land.',
  reads: ['entity', 'value'],
  writes: ['nearDuplicates', 'nearDuplicateCandidatesBelowThreshold'],
  create: (ctx) => {
    const ns = ctx.topology.namespace;
    const windowMs = Math.round(ctx.topology.dedupWindowDays * 86_400_000);
    const cap = ctx.topology.nearDuplicateRefsPerKey;
    const { threshold } = ctx.topology.matching;
    const model = ctx.topology.matching.model ?? DEFAULT_MODEL;
    // Blocking keys and profiles are personal: Redis holds only their pseudonyms and sealed copies.
    const pseudonyms: Pseudonyms = ctx.pseudonyms ?? missingKey();
    const identities = new RecordPrivacy(pseudonyms);
    const totalCounter = `${ns}:ndtf:identities`;
    const keyPrefix = `${ns}:nd:`;
    const refPrefix = `${ns}:ndref:`;

    function subjectOf(e: Envelope): Subject | undefined {
      const cfg = e.entity.definition.nearDuplicates;
      if (!cfg || !e.value) return undefined;
      // The identity is the pseudonym the privacy tools know the person by, so forgetting them reaches Redis too.
      const identity = identities.identifierAt(e.entity, cfg.identityField, readPath(e.value, cfg.identityField));
      if (!identity) return undefined;
      const profile = profileOfRecord(e.value, cfg);
      const keys: Subject['keys'] = [];
      for (const kind of cfg.blocking ?? (Object.keys(BLOCKING_RULES) as BlockingKey[])) {
        const value = BLOCKING_RULES[kind].key(profile);
        if (value) keys.push({ kind, redisKey: `${keyPrefix}${kind}:${pseudonyms.of(kind, value)}` });
      }
      if (keys.length === 0) return undefined;
      const counters: Subject['counters'] = {};
      for (const f of COUNTED) if (profile[f]) counters[f] = `${ns}:ndtf:${f}:${pseudonyms.of(f, profile[f])}`;
      return {
        e,
        identity,
        profile,
        keys,
        counters,
        ref: { ...refOf(e), profile: pseudonyms.seal(JSON.stringify(profile)), keys: keys.map((k) => k.redisKey.slice(keyPrefix.length)) },
      };
    }

    /** The candidates' refs, and each subject's term frequencies from the window's identity and name counts. */
    function lookUp({ refs, counts }: Touched) {
      const refByIdentity = new Map([...refs].map(([o, ref]) => [o, ref ? (JSON.parse(ref) as StoredRef) : undefined]));
      const population = counts.get(totalCounter) ?? 0;
      const termFrequencyOf = (s: Subject): TermFrequency | undefined =>
        population >= TF_MIN_IDENTITIES
          ? (field) => {
              // The adjustment asks about the record's own value of the field, whose counter the subject holds.
              const n = counts.get(s.counters[field as CountedField] ?? '');
              return n ? n / population : undefined;
            }
          : undefined;
      return { refByIdentity, termFrequencyOf };
    }

    return {
      async process(batch) {
        const subjects = batch
          .filter((e) => e.outcome === 'pending')
          .map(subjectOf)
          .filter((s): s is Subject => s !== undefined);
        if (subjects.length === 0) return;

        // One script call per chunk, which also reads what scoring needs; in order, so a later record in the batch sees the earlier ones.
        const touched = await touchNearDuplicateKeys(
          ctx.redis,
          subjects.map((s) => ({
            keys: s.keys.map((k) => k.redisKey),
            refKey: `${refPrefix}${s.identity}`,
            identity: s.identity,
            ref: JSON.stringify(s.ref),
            counters: [totalCounter, ...Object.values(s.counters)],
          })),
          { now: ctx.now(), cap, ttlMs: windowMs, refPrefix },
        );
        if (touched.shared.length === 0) return;
        const matchesBySubject = sharedIdentities(touched.shared, subjects);
        const { refByIdentity, termFrequencyOf } = lookUp(touched);
        const profiles = new Map<string, ComparisonProfile | undefined>();
        const profileOfRef = (ref: StoredRef) => {
          if (!profiles.has(ref.profile)) {
            const opened = pseudonyms.open(ref.profile);
            profiles.set(ref.profile, opened === undefined ? undefined : (JSON.parse(opened) as ComparisonProfile));
          }
          return profiles.get(ref.profile);
        };

        for (const [j, sharedWith] of matchesBySubject) {
          const s = subjects[j]!;
          const termFrequency = termFrequencyOf(s);
          for (const [other, kinds] of sharedWith) {
            const stored = refByIdentity.get(other);
            // A ref written by this very record in an earlier, uncommitted attempt is not another record.
            if (!stored || `${stored.topic}/${stored.partition}/${stored.offset}` === positionOf(s.e)) continue;
            const matchedProfile = profileOfRef(stored);
            // A profile sealed under another key (C360_PII_KEY rotated) cannot be compared: it is not a candidate.
            if (!matchedProfile) continue;
            const score = scorePair(s.profile, matchedProfile, model, termFrequency);
            if (score.probability < threshold) s.e.nearDuplicateCandidatesBelowThreshold++;
            else s.e.nearDuplicates.push(nearDuplicateEvent(s, stored, matchedProfile, kinds, score, ctx.now()));
          }
        }
      },
    };
  },
});

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Per subject (by index), the other identities it shares blocking keys with, and which keys. */
function sharedIdentities(shared: KeyMatch[], subjects: Subject[]): Map<number, Map<string, BlockingKey[]>> {
  const bySubject = new Map<number, Map<string, BlockingKey[]>>();
  for (const { subject, key, others } of shared) {
    let matched = bySubject.get(subject);
    if (!matched) bySubject.set(subject, (matched = new Map()));
    for (const other of others) matched.set(other, [...(matched.get(other) ?? []), subjects[subject]!.keys[key]!.kind]);
  }
  return bySubject;
}

function nearDuplicateEvent(
  s: Subject,
  stored: StoredRef,
  matchedProfile: ComparisonProfile,
  kinds: BlockingKey[],
  score: ReturnType<typeof scorePair>,
  now: number,
): NearDuplicateEvent {
  const { profile: _sealed, keys: _keys, ...matched } = stored;
  const { profile: _own, keys: _ownKeys, ...record } = s.ref;
  const [a, b] = [fullName(s.profile), fullName(matchedProfile)];
  return {
    kind: 'NEAR_DUPLICATE',
    source: s.e.entity.source,
    entity: s.e.entity.name,
    record,
    matched,
    keys: kinds,
    score: a && b ? Math.round(jaroWinkler(a, b) * 1000) / 1000 : null,
    probability: round(score.probability),
    match_weight: round(score.weight),
    levels: Object.fromEntries(Object.entries(score.levels).filter((l): l is [string, string] => l[1] !== null)),
    detected_at: now,
  };
}
