/**
 * Forgetting a person (GDPR art. 17): every subject their identifiers lead to has its data key
 * replaced by a tombstone (so every stored personal value of theirs — raw topics, the raw layer,
 * quarantine — is unreadable for good, without changing a byte of an immutable file, and no key
 * is made for them again), their identifiers are suppressed (so a re-sent export does not bring
 * them back), their near-duplicate entries leave Redis and its changelog, and the request is logged with the
 * pseudonyms needed to apply it again after a key store is restored (`replayErasures`).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { CountryCode } from 'libphonenumber-js';
import { C360Error, ConfigError, describeError } from '../contracts/errors.js';
import { topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import { sendTombstones } from '../kafka/send.js';
import { forgetNearDuplicateIdentities } from '../storage/near-duplicate-state.js';
import { givenIdentifier } from './identifiers.js';
import type { Erasure, KeyStore } from './key-store.js';
import type { PrivacyLog } from './privacy-log.js';
import type { RecordPrivacy } from './records.js';

/** An identifier as a person or operator gives it: the option it came by, its kind (email, phone, customer_id, device, record_id…) and value. */
export interface GivenIdentifier {
  option: string;
  kind: string;
  value: string;
}

/**
 * The pseudonyms of the identifiers given, each checked as ingest checks it (givenIdentifier) and
 * of a kind the topology knows: anything else is one sentence, and nothing is forgotten.
 */
export function pseudonymsOf(records: RecordPrivacy, given: GivenIdentifier[], o: { kinds: ReadonlySet<string>; region: CountryCode | undefined }): string[] {
  if (given.length === 0) throw new ConfigError('name the person: at least one of --email, --phone, --customer-id, --device-id or --id <kind>=<value>.');
  return given.map((g) => {
    if (!o.kinds.has(g.kind))
      throw new ConfigError(`${g.option} names the kind "${g.kind}", which no identifier of this topology has (known: ${[...o.kinds].sort().join(', ')}).`);
    return records.identifier(g.kind, givenIdentifier(g.option, g.kind, g.value, o.region))!;
  });
}

/** What an erasure changes: the key store, Redis (near-duplicate entries) and their changelog, and the privacy log, for one namespace. */
export interface ErasureStores {
  keyStore: KeyStore;
  redis: Redis;
  log: PrivacyLog;
  namespace: string;
  /** The near-duplicate window, and what writes tombstones over keys of the near-duplicate changelog. */
  nearDuplicates: { windowMs: number; tombstone(keys: Buffer[]): Promise<void> };
}

/** The near-duplicate part of a topology's erasure stores: its window, and tombstones sent to its changelog. */
export function nearDuplicateErasure(kafka: Kafka, topology: Topology): ErasureStores['nearDuplicates'] {
  return {
    windowMs: topology.dedupWindowDays * 86_400_000,
    tombstone: (keys) => sendTombstones(kafka, topicNames(topology.namespace).nearDuplicateChangelog, keys),
  };
}

export interface ForgetOutcome extends Erasure {
  redisKeysChanged: number;
}

const forgetInRedis = (o: ErasureStores, identities: string[]) =>
  forgetNearDuplicateIdentities(o.redis, { namespace: o.namespace, windowMs: o.nearDuplicates.windowMs, now: Date.now() }, identities);

export async function forgetPerson(o: ErasureStores & { identifiers: string[] }): Promise<ForgetOutcome> {
  const requestedAt = new Date();
  const erasure = await o.keyStore.forget(o.identifiers, randomUUID());
  // Near-duplicate identities are identifier pseudonyms (src/stages/near-duplicates.ts).
  const erased = await forgetInRedis(o, erasure.identifiers);
  const logged = { ...erasure, requestedAt, identifiersAsked: o.identifiers.length, redisKeysDeleted: erased.changed };
  // The object store's copy first: it is the one a restored key store is repaired from.
  await o.log.erasure(logged).catch((err: unknown) => {
    throw new C360Error(
      'privacy.erasure_not_logged',
      `request ${erasure.requestId} forgot ${erasure.subjects.length} subject(s), but its log could not be written (${describeError(err).split('\n', 1)[0]}): ask again, with the storage fixed, to log it.`,
      { cause: err },
    );
  });
  await o.keyStore.logErasure(logged);
  // Last, once the erasure is logged: a Kafka that cannot take the tombstones fails the command, and asking again covers them.
  await o.nearDuplicates.tombstone(erased.tombstones);
  return { ...erasure, redisKeysChanged: erased.changed };
}

/** Applies every logged erasure again: after a key store is restored from a backup, none of those people is readable or stored again. */
export async function replayErasures(o: ErasureStores): Promise<{ erasures: number; keysDestroyed: number }> {
  const erasures = await o.log.erasures();
  const keysDestroyed = await o.keyStore.replay(erasures);
  const erased = await forgetInRedis(o, [...new Set(erasures.flatMap((e) => e.identifiers))]);
  await o.nearDuplicates.tombstone(erased.tombstones);
  return { erasures: erasures.length, keysDestroyed };
}
