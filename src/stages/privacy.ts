/**
 * The privacy stages (docs/privacy.md). `suppress` drops the records of people who asked to be
 * forgotten before anything else remembers them (dedup claims, near-duplicate keys); the router
 * counts them as suppressed. `encrypt`, last, encrypts every personal field with its subject's
 * data key and records which identifiers lead to the subject, so that forgetting a person is
 * deleting keys: the raw topics and the immutable raw layer never hold a readable personal value.
 */

import type { IHeaders } from 'kafkajs';
import { ConfigError } from '../contracts/errors.js';
import { topicNames } from '../contracts/topic-names.js';
import { ORIGINAL_KEY, ORIGINAL_VALUE, originalHeaderLabel, ownHeader, sealBytes } from '../privacy/envelope-keys.js';
import { personalShape } from '../privacy/identifiers.js';
import type { Applicant, KeyStore } from '../privacy/key-store.js';
import type { Pseudonyms } from '../privacy/pseudonyms.js';
import { type RecordPerson, RecordPrivacy } from '../privacy/records.js';
import { forgetNearDuplicateIdentities } from '../storage/near-duplicate-state.js';
import type { Envelope } from './envelope.js';
import { defineStage, type StageContext } from './stage.js';

/** The record's subject and identifiers, computed once for both privacy stages. */
function personOf(e: Envelope, value: Record<string, unknown>, records: RecordPrivacy): RecordPerson {
  e.person ??= records.personOf(e.entity, value);
  return e.person;
}

function privacyOf(ctx: StageContext, stage: string): { keyStore: KeyStore; records: RecordPrivacy } {
  const pseudonyms: Pseudonyms | undefined = ctx.pseudonyms;
  if (!pseudonyms) throw new ConfigError(`C360_PII_KEY is not set: the ${stage} stage names people only by keyed hashes and needs the secret.`);
  if (!ctx.keyStore) throw new ConfigError(`C360_KEK is not set: the ${stage} stage needs the key store, whose keys it wraps.`);
  return { keyStore: ctx.keyStore, records: new RecordPrivacy(pseudonyms) };
}

/** Bounded memory of what has been done already, so a busy person costs one key-store round trip, not one per record. */
class Seen<V> extends Map<string, V> {
  constructor(private readonly limit: number) {
    super();
  }
  remember(key: string, value: V): void {
    if (this.size >= this.limit) this.clear();
    this.set(key, value);
  }
}

export const suppressStage = defineStage({
  name: 'suppress',
  description:
    'Drops the records of people who asked to be forgotten (any identifier of theirs: email, phone, customer or device id), counted in the ledger as suppressed.',
  reads: ['entity', 'value', 'person'],
  writes: ['person'],
  create: (ctx) => {
    const { keyStore, records } = privacyOf(ctx, 'suppress');
    return {
      async process(batch) {
        const ids = new Map<Envelope, string[]>();
        // Records the checks rejected count too: a forgotten person's invalid record is not quarantined either.
        for (const e of batch) if ((e.outcome === 'pending' || e.outcome === 'dead-letter') && e.value) ids.set(e, personOf(e, e.value, records).identifiers);
        const suppressed = await keyStore.suppressedAmong([...new Set([...ids.values()].flat())]);
        if (suppressed.size === 0) return;
        for (const [e, own] of ids) if (own.some((id) => suppressed.has(id))) e.outcome = 'suppressed';
      },
    };
  },
});

/**
 * A dead letter's original as it arrived, sealed for its subject: the value, the key when it is an
 * email or a phone (an id stays readable, as the raw layer's `_key` does) and the producer's own
 * headers; the lineage and Connect headers c360 itself defines stay readable.
 */
function sealOriginal(e: Envelope, subject: string, key: Buffer): NonNullable<Envelope['sealedOriginal']> {
  const headers: IHeaders = {};
  for (const [name, v] of Object.entries(e.message.headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined) continue;
    headers[name] = ownHeader(name) ? first : sealBytes(subject, key, originalHeaderLabel(name), Buffer.from(first));
  }
  return {
    key: e.message.key && personalShape(e.message.key.toString()) ? sealBytes(subject, key, ORIGINAL_KEY, e.message.key) : e.message.key,
    value: sealBytes(subject, key, ORIGINAL_VALUE, e.message.value!),
    headers,
  };
}

export const encryptStage = defineStage({
  name: 'encrypt',
  description:
    "Encrypts every field the contract marks personal (free-form fields as a whole) with the data key of the record's subject (AES-256-GCM, keys in the key store, wrapped by C360_KEK), seals each dead letter's original bytes the same way (for the source and day when no person can be named), and links the record's identifiers to its subject, race-free against an erasure: a record carrying an identifier suppressed meanwhile, or whose subject was forgotten, is suppressed instead.",
  reads: ['entity', 'value', 'person'],
  writes: ['value', 'body', 'encrypted', 'sealedOriginal', 'person', 'stateChanges'],
  create: (ctx) => {
    const { keyStore, records } = privacyOf(ctx, 'encrypt');
    const { namespace } = ctx.topology;
    const { nearDuplicateChangelog } = topicNames(namespace);
    const keys = new Seen<Buffer>(ctx.cacheEntries);
    const links = new Seen<true>(2 * ctx.cacheEntries);
    /** What the key store now holds for the applicants, so their next records need no round trip. */
    function remember(applicants: Applicant[], admitted: ReadonlyMap<string, Buffer>): void {
      for (const a of applicants) {
        const key = admitted.get(a.subject);
        if (!key) {
          keys.delete(a.subject);
          continue;
        }
        keys.remember(a.subject, key);
        for (const id of a.unlinked) links.remember(`${id}|${a.subject}`, true);
      }
    }

    /** The records this stage encrypts or seals, each with its person; and what the key store must add for them. */
    function collect(batch: Envelope[]): { work: Envelope[]; applicants: Applicant[]; unidentifiedDays: Map<string, string> } {
      const work: Envelope[] = [];
      const applicants: Applicant[] = [];
      const unidentifiedDays = new Map<string, string>();
      for (const e of batch) {
        // Already sealed or encrypted: a batch split after a failure runs this stage again over some records.
        const dead = e.outcome === 'dead-letter' && e.message.value?.length && !e.sealedOriginal;
        const stored = e.outcome === 'pending' && e.value && !e.encrypted && records.holdsPersonalData(e.entity);
        if (!dead && !stored) continue;
        if (e.value) personOf(e, e.value, records);
        else {
          // A dead letter that did not decode names no person: its bytes are sealed for its source and day.
          const unidentified = records.unidentified(e.entity.source, e.lineage.receivedAt);
          e.person = { subject: unidentified.subject, identifiers: [] };
          unidentifiedDays.set(unidentified.subject, unidentified.day);
        }
        const { subject, identifiers } = e.person!;
        work.push(e);
        // A record whose key and links are all known needs no round trip: what it would add to the key store is there already.
        const unlinked = [subject, ...identifiers].filter((id) => !links.has(`${id}|${subject}`));
        if (unlinked.length > 0 || !keys.has(subject)) applicants.push({ subject, identifiers, unlinked });
      }
      return { work, applicants, unidentifiedDays };
    }

    return {
      async process(batch) {
        const { work, applicants, unidentifiedDays } = collect(batch);
        if (work.length === 0) return;
        // Records whose key and links are known are checked too: one erased after the suppress stage let it pass
        // may have left a near-duplicate entry in Redis after the erasure cleaned it, which goes with the record below.
        // Their subjects suffice: every identifier of theirs is linked already, so an erasure by any of them suppressed the subject.
        const asked = new Set(applicants.map((a) => a.subject));
        const known = new Set(work.map((e) => e.person!.subject).filter((s) => !asked.has(s)));
        const admission = await keyStore.admit(applicants, unidentifiedDays, [...known]);
        const keyOf = (subject: string) => (asked.has(subject) ? admission.keys.get(subject) : keys.get(subject));
        // No key, or an identifier suppressed after the suppress stage let the record pass: its person was forgotten meanwhile.
        const refused = (e: Envelope) => {
          const { subject, identifiers } = e.person!;
          return !keyOf(subject) || admission.suppressed.has(subject) || identifiers.some((id) => admission.suppressed.has(id));
        };
        // The near-duplicate stage ran before the erasure was seen: what it remembered of a refused record leaves Redis.
        const forgotten = [...new Set(work.filter(refused).flatMap((e) => e.person!.identifiers))];
        const erased =
          forgotten.length > 0
            ? await forgetNearDuplicateIdentities(ctx.redis, { namespace, windowMs: ctx.topology.dedupWindowDays * 86_400_000, now: ctx.now() }, forgotten)
            : undefined;
        // Every await is done: from here on the batch changes, so a retry after a failure starts clean.
        // Tombstones over the changelog entries of what left Redis, in the batch's transaction: a refused
        // record's own entries go, and the tombstones ride on the last refused record, after every entry.
        const refusedRecords = erased ? work.filter(refused) : [];
        for (const e of refusedRecords) e.stateChanges = e.stateChanges.filter((c) => c.changelog !== nearDuplicateChangelog);
        for (const key of erased?.tombstones ?? [])
          refusedRecords.at(-1)?.stateChanges.push({ changelog: nearDuplicateChangelog, key, value: null, epoch: undefined });
        for (const e of work) {
          const { subject } = e.person!;
          const key = keyOf(subject);
          if (!key || refused(e)) {
            e.outcome = 'suppressed';
            continue;
          }
          if (e.outcome === 'dead-letter') e.sealedOriginal = sealOriginal(e, subject, key);
          else {
            records.encrypt(e.entity, e.value!, subject, key);
            e.body = undefined;
            e.encrypted = true;
          }
        }
        remember(applicants, admission.keys);
      },
    };
  },
});
