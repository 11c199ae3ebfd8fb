/**
 * Stage 4: near-duplicate flags for identity resolution, Splink's real-time way. Blocking keys
 * (canonical email, a phone's last 9 digits, device id, last-name sound + postal code, first-name sound +
 * birth date) map in Redis to a capped, recency-ordered list of the identities seen with them in
 * the window (storage/near-duplicate-state.ts); each *other* identity sharing a key is a candidate.
 * The candidate's comparison profile (sealed in Redis with where its record is) is scored against the new record's with the topology's Fellegi–Sunter model, and a
 * NearDuplicate event is emitted only at or above the match-probability threshold; candidates
 * below it are counted, not emitted. The record lands either way.
 * Lists hold identities, not records, so replays and repeat events of one customer add nothing.
 * Whenever an identity gains a key, what it holds goes to the near-duplicate changelog with its
 * batch, so a Redis that loses the state is rebuilt before the next record is matched.
 * A key whose list is already full (shared by `nearDuplicateRefsPerKey` identities or more: a shop's
 * tablet, test@example.com) is too common to say anything and finds no candidates.
 */

import { ConfigError } from '../contracts/errors.js';
import type { NearDuplicateEvent, RecordRef } from '../contracts/near-duplicate.js';
import { topicNames } from '../contracts/topic-names.js';
import type { BlockingKey } from '../contracts/topology-definition.js';
import { BLOCKING_RULES } from '../matching/blocking.js';
import { type ComparisonProfile, PROFILE_FIELDS, profileOfRecord } from '../matching/comparisons.js';
import { DEFAULT_MODEL, scorePair, type TermFrequency } from '../matching/model.js';
import { jaroWinkler } from '../matching/similarity.js';
import type { Pseudonyms } from '../privacy/pseudonyms.js';
import { RecordPrivacy } from '../privacy/records.js';
import { readPath } from '../schema/field-path.js';
import { DIGEST_BYTES, identityDigest, type KeyMatch, nearDuplicateRestorer, type Touched, touchNearDuplicateKeys } from '../storage/near-duplicate-state.js';
import { packFields, unpackFields } from '../storage/sliced-state.js';
import { RestorableState } from '../storage/state-changelog.js';
import type { Envelope } from './envelope.js';
import { epochsOf, positionOf, refOf } from './envelope.js';
import { defineStage } from './stage.js';

interface Subject {
  e: Envelope;
  identity: Buffer;
  profile: ComparisonProfile;
  kinds: BlockingKey[];
  keys: Buffer[];
  /** Its names' digests, by field. */
  counters: Partial<Record<CountedField, Buffer>>;
}

/** Term-frequency counters: identities in the window per first and last name. */
const COUNTED = ['first_name', 'last_name'] as const;
type CountedField = (typeof COUNTED)[number];
/** Below this many identities in the window, observed name frequencies are noise and are not used. */
const TF_MIN_IDENTITIES = 1000;

function missingKey(): never {
  throw new ConfigError('C360_PII_KEY is not set: the near-duplicate stage keeps personal values in Redis only as keyed hashes and needs the secret.');
}

const fullName = (p: ComparisonProfile) => (p.last_name ? `${p.first_name ?? ''} ${p.last_name}`.trim() : undefined);

/**
 * What the state keeps of a record, sealed in one AEAD: where it is (its topic left out when it is
 * its source's ingest topic) and its comparison profile.
 */
function refCodec(pseudonyms: Pseudonyms, namespace: string) {
  const names = topicNames(namespace);
  return {
    seal(ref: RecordRef, profile: ComparisonProfile): Buffer {
      const topic = ref.topic === names.ingest(ref.source) ? '' : ref.topic;
      const fields = PROFILE_FIELDS.map((f) => profile[f] ?? '');
      return pseudonyms.seal(packFields([topic, String(ref.partition), String(ref.offset), ref.ingest_id, ref.natural_id, ref.source, ...fields]));
    },
    /** The ref and profile, or undefined when sealed under another key (C360_PII_KEY rotated) or not a ref. */
    open(sealed: Buffer): { ref: RecordRef; profile: ComparisonProfile } | undefined {
      const opened = pseudonyms.open(sealed);
      const v = opened && unpackFields(opened);
      if (!v || v.length !== 6 + PROFILE_FIELDS.length) return undefined;
      const [topic, partition, offset, ingest_id, natural_id, source] = v as [string, string, string, string, string, string];
      const profile: ComparisonProfile = {};
      PROFILE_FIELDS.forEach((f, i) => {
        if (v[6 + i]) profile[f] = v[6 + i];
      });
      return { ref: { ingest_id, source, natural_id, topic: topic || names.ingest(source), partition: Number(partition), offset: Number(offset) }, profile };
    },
  };
}

export const nearDuplicateStage = defineStage({
  name: 'near_duplicates',
  description:
    'Scores records that share a blocking key with a different identity (Fellegi–Sunter match probability) and emits a NearDuplicate at or above the threshold, for identity resolution; they still land.',
  reads: ['entity', 'value'],
  writes: ['nearDuplicates', 'nearDuplicateCandidatesBelowThreshold', 'stateChanges'],
  create: (ctx) => {
    const namespace = ctx.topology.namespace;
    const windowMs = Math.round(ctx.topology.dedupWindowDays * 86_400_000);
    const cap = ctx.topology.nearDuplicateRefsPerKey;
    const { threshold } = ctx.topology.matching;
    const model = ctx.topology.matching.model ?? DEFAULT_MODEL;
    // Blocking keys and profiles are personal: Redis holds only their digests and sealed copies.
    const pseudonyms: Pseudonyms = ctx.pseudonyms ?? missingKey();
    const identities = new RecordPrivacy(pseudonyms);
    const refs = refCodec(pseudonyms, namespace);
    const options = { cap, windowMs, namespace, marker: `${namespace}:nd:epoch` };
    const state = new RestorableState(
      ctx.redis,
      `${namespace}:nd`,
      topicNames(namespace).nearDuplicateChangelog,
      ctx.readChangelog,
      nearDuplicateRestorer(ctx.redis, options),
    );

    function subjectOf(e: Envelope): Subject | undefined {
      const cfg = e.entity.definition.nearDuplicates;
      if (!cfg || !e.value) return undefined;
      // The identity is the pseudonym the privacy tools know the person by, so forgetting them reaches Redis too.
      const identity = identities.identifierAt(e.entity, cfg.identityField, readPath(e.value, cfg.identityField));
      if (!identity) return undefined;
      const profile = profileOfRecord(e.value, cfg);
      const kinds: BlockingKey[] = [];
      const keys: Buffer[] = [];
      for (const kind of cfg.blocking ?? (Object.keys(BLOCKING_RULES) as BlockingKey[])) {
        const value = BLOCKING_RULES[kind].key(profile);
        if (!value) continue;
        kinds.push(kind);
        keys.push(pseudonyms.digest(kind, value, DIGEST_BYTES));
      }
      if (keys.length === 0) return undefined;
      const counters: Subject['counters'] = {};
      for (const f of COUNTED) if (profile[f]) counters[f] = pseudonyms.digest(f, profile[f], DIGEST_BYTES);
      return { e, identity: identityDigest(identity), profile, kinds, keys, counters };
    }

    /** Each subject's term frequencies, from the window's identity and name counts. */
    function termFrequencies({ counts, population }: Touched) {
      return (s: Subject): TermFrequency | undefined =>
        population >= TF_MIN_IDENTITIES
          ? (field) => {
              // The adjustment asks about the record's own value of the field, whose counter the subject holds.
              const n = counts.get(s.counters[field as CountedField]?.toString('latin1') ?? '');
              return n ? n / population : undefined;
            }
          : undefined;
    }

    return {
      async process(batch) {
        const subjects = batch
          .filter((e) => e.outcome === 'pending')
          .map(subjectOf)
          .filter((s): s is Subject => s !== undefined);
        if (subjects.length === 0) return;

        // One script call per chunk, which also reads what scoring needs; in order, so a later record in the batch sees the earlier ones.
        // A state Redis lost is rebuilt from its changelog first.
        const stored = subjects.map((s) => ({
          identity: s.identity,
          keys: s.keys,
          counters: Object.values(s.counters),
          ref: refs.seal(refOf(s.e), s.profile),
        }));
        const touched = await state.guarded(() => touchNearDuplicateKeys(ctx.redis, stored, { ...options, now: ctx.now() }));
        for (const c of touched.changes)
          subjects[c.subject]!.e.stateChanges.push({ changelog: state.changelog, key: c.key, value: c.value, epoch: touched.epoch });
        if (touched.shared.length === 0) return;
        const termFrequencyOf = termFrequencies(touched);
        const opened = new Map<string, ReturnType<typeof refs.open>>();
        const storedOf = (other: string) => {
          if (!opened.has(other)) {
            const sealed = touched.refs.get(other);
            opened.set(other, sealed && refs.open(sealed));
          }
          return opened.get(other);
        };

        for (const [j, sharedWith] of sharedIdentities(touched.shared, subjects)) {
          const s = subjects[j]!;
          const termFrequency = termFrequencyOf(s);
          for (const [other, kinds] of sharedWith) {
            // Gone (forgotten), or sealed under another key (C360_PII_KEY rotated): not a candidate.
            const stored = storedOf(other);
            // A ref written by this very record in an earlier, uncommitted attempt is not another record.
            if (!stored || `${stored.ref.topic}/${stored.ref.partition}/${stored.ref.offset}` === positionOf(s.e)) continue;
            const score = scorePair(s.profile, stored.profile, model, termFrequency);
            if (score.probability < threshold) s.e.nearDuplicateCandidatesBelowThreshold++;
            else s.e.nearDuplicates.push(nearDuplicateEvent(s, stored, kinds, score, ctx.now()));
          }
        }
      },
      async beforeCommit(batch) {
        await state.verify(epochsOf(batch, state.changelog));
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
    for (const other of others) matched.set(other, [...(matched.get(other) ?? []), subjects[subject]!.kinds[key]!]);
  }
  return bySubject;
}

function nearDuplicateEvent(
  s: Subject,
  stored: { ref: RecordRef; profile: ComparisonProfile },
  kinds: BlockingKey[],
  score: ReturnType<typeof scorePair>,
  now: number,
): NearDuplicateEvent {
  const [a, b] = [fullName(s.profile), fullName(stored.profile)];
  return {
    kind: 'NEAR_DUPLICATE',
    source: s.e.entity.source,
    entity: s.e.entity.name,
    record: refOf(s.e),
    matched: stored.ref,
    keys: kinds,
    score: a && b ? Math.round(jaroWinkler(a, b) * 1000) / 1000 : null,
    probability: round(score.probability),
    match_weight: round(score.weight),
    levels: Object.fromEntries(Object.entries(score.levels).filter((l): l is [string, string] => l[1] !== null)),
    detected_at: now,
  };
}
