/**
 * The privacy stages (docs/privacy.md). `suppress` drops the records of people who asked to be
 * forgotten before anything else remembers them (dedup claims, near-duplicate keys); the router
 * counts them as suppressed. `encrypt`, last, encrypts every personal field with its subject's
 * data key and records which identifiers lead to the subject, so that forgetting a person is
 * deleting keys: the raw topics and the immutable raw layer never hold a readable personal value.
 */
import { ConfigError } from '../contracts/errors.js';
import { ORIGINAL_VALUE, sealBytes } from '../privacy/envelope-keys.js';
import type { KeyStore } from '../privacy/key-store.js';
import type { Pseudonyms } from '../privacy/pseudonyms.js';
import { type RecordPerson, RecordPrivacy } from '../privacy/records.js';
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
  requires: ['decode'],
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

export const encryptStage = defineStage({
  name: 'encrypt',
  description:
    "Encrypts every field the contract marks personal with the data key of the record's subject (AES-256-GCM, keys in the key store, wrapped by C360_KEK), seals each dead letter's original bytes the same way (for the source and day when no person can be named), and links the record's identifiers to its subject; a subject forgotten meanwhile gets no key and its record is suppressed.",
  requires: ['decode'],
  create: (ctx) => {
    const { keyStore, records } = privacyOf(ctx, 'encrypt');
    const keys = new Seen<Buffer>(ctx.cacheEntries);
    const links = new Seen<true>(2 * ctx.cacheEntries);
    return {
      async process(batch) {
        const work: { e: Envelope; value: Record<string, unknown>; subject: string }[] = [];
        const dead: { e: Envelope; original: Buffer; subject: string }[] = [];
        const unidentifiedDays = new Map<string, string>();
        const pairs: Array<[string, string]> = [];
        /** The record's subject, its identifiers linked to it (those not linked already). */
        const link = (e: Envelope, value: Record<string, unknown>): string => {
          const { subject, identifiers } = personOf(e, value, records);
          for (const id of [subject, ...identifiers]) if (!links.has(`${id}|${subject}`)) pairs.push([id, subject]);
          return subject;
        };
        for (const e of batch) {
          // Already sealed or encrypted: a batch split after a failure runs this stage again over some records.
          if (e.outcome === 'dead-letter' && e.message.value?.length && !e.sealedOriginal) {
            // A dead letter keeps the record's bytes: sealed for its person when it decoded, else for its source and day.
            let subject: string;
            if (e.value) subject = link(e, e.value);
            else {
              const unidentified = records.unidentified(e.entity.source, e.lineage.receivedAt);
              subject = unidentified.subject;
              unidentifiedDays.set(subject, unidentified.day);
            }
            dead.push({ e, original: e.message.value, subject });
            continue;
          }
          if (e.outcome !== 'pending' || !e.value || e.encrypted || !records.holdsPersonalData(e.entity)) continue;
          work.push({ e, value: e.value, subject: link(e, e.value) });
        }
        if (work.length === 0 && dead.length === 0) return;
        // The batch's keys, taken from the cache before anything is remembered: remembering may clear a full cache.
        const batchKeys = new Map<string, Buffer>();
        const missing: string[] = [];
        for (const s of new Set([...work, ...dead].map((w) => w.subject))) {
          const cached = keys.get(s);
          if (cached) batchKeys.set(s, cached);
          else missing.push(s);
        }
        const fetched = await keyStore.keysFor(missing, unidentifiedDays);
        await keyStore.link(pairs);
        // Every await is done: from here on the batch changes, so a retry after a failure starts clean.
        for (const [s, k] of fetched) {
          batchKeys.set(s, k);
          keys.remember(s, k);
        }
        for (const [id, s] of pairs) links.remember(`${id}|${s}`, true);
        for (const w of work) {
          // No key: the subject was forgotten meanwhile (keysFor makes none for a suppressed subject).
          const key = batchKeys.get(w.subject);
          if (!key) {
            w.e.outcome = 'suppressed';
            continue;
          }
          records.encrypt(w.e.entity, w.value, w.subject, key);
          w.e.body = undefined;
          w.e.encrypted = true;
        }
        for (const d of dead) {
          const key = batchKeys.get(d.subject);
          if (key) d.e.sealedOriginal = sealBytes(d.subject, key, ORIGINAL_VALUE, d.original);
          else d.e.outcome = 'suppressed';
        }
      },
    };
  },
});
