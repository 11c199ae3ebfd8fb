/**
 * Forgetting a person (GDPR art. 17): every subject their identifiers lead to loses its data key
 * (so every stored personal value of theirs — raw topics, the raw layer, quarantine — is unreadable
 * for good, without changing a byte of an immutable file), their identifiers are suppressed (so a
 * re-sent export does not bring them back), their near-duplicate entries leave Redis, and the
 * request is logged without personal data.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConfigError } from '../contracts/errors.js';
import { forgetNearDuplicateIdentities } from '../storage/redis-scripts.js';
import type { Erasure, KeyStore } from './key-store.js';
import type { RecordPrivacy } from './records.js';

/** An identifier as a person or operator gives it: its kind (email, phone, customer_id, device, record_id…) and value. */
export interface GivenIdentifier {
  kind: string;
  value: string;
}

/** The pseudonyms of the identifiers given; one that is empty or not an identifier of its kind is one sentence. */
export function pseudonymsOf(records: RecordPrivacy, given: GivenIdentifier[]): string[] {
  if (given.length === 0) throw new ConfigError('name the person: at least one of --email, --phone, --customer-id, --device-id or --id <kind>=<value>.');
  return given.map((g) => {
    const id = records.identifier(g.kind, g.value);
    if (!id) throw new ConfigError(`--${g.kind.replace('_', '-')} "${g.value}" is not a usable ${g.kind}.`);
    return id;
  });
}

export interface ForgetOutcome extends Erasure {
  redisKeysChanged: number;
}

export async function forgetPerson(o: { keyStore: KeyStore; redis: Redis; namespace: string; identifiers: string[] }): Promise<ForgetOutcome> {
  const requestedAt = new Date();
  const erasure = await o.keyStore.forget(o.identifiers, randomUUID());
  // Near-duplicate identities are identifier pseudonyms (src/stages/near-duplicates.ts).
  const redisKeysChanged = await forgetNearDuplicateIdentities(o.redis, o.namespace, erasure.identifiers);
  await o.keyStore.logErasure({ ...erasure, requestedAt, identifiersAsked: o.identifiers.length, redisKeysDeleted: redisKeysChanged });
  return { ...erasure, redisKeysChanged };
}
