/**
 * Crypto-shredding's keys: a random AES-256 data key per subject (a person, as docs/privacy.md
 * defines one), kept only wrapped — AES-256-GCM under the key-encryption key C360_KEK (or, in a
 * deployment, a KMS: docs/privacy.md). The subject's pseudonym names the key in every sealed text,
 * and deleting the key leaves what it sealed unreadable for good. Two formats:
 * - `c360e2`, what records are written with: all of a record's personal values sealed in one
 *   AES-256-GCM call (sealRecord). The first of them holds `c360e2.<subject>.<sealed>`, the sealed
 *   bytes being the JSON list of every value with its path; each other holds `c360e2.<subject>.#<n>`,
 *   its place in that list, checked against its own place and path when read (openRecord).
 * - `c360e1.<subject>.<sealed>`, one AES-256-GCM call per value with the field's path as associated
 *   data: what earlier records hold (still read), and what dead letters' sealed originals use.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { pooledRandom } from './random.js';

const PREFIX = 'c360e1.';
const RECORD_PREFIX = 'c360e2.';
/** Both prefixes are this long, and a subject pseudonym is 22 characters. */
const PREFIX_LENGTH = 7;
const SUBJECT_LENGTH = 22;

/** Associated data per field path (or dead-letter label): few, and the same for every record. */
const AAD = new Map<string, Buffer>();
const aadOf = (label: string): Buffer => {
  let aad = AAD.get(label);
  if (!aad) AAD.set(label, (aad = Buffer.from(label)));
  return aad;
};

/**
 * Each key's KeyObject, made once per key Buffer: Node 24 otherwise makes one on every call, which
 * costs more than the AES itself. Keys are cached Buffers (key-store.ts).
 */
const KEY_OBJECTS = new WeakMap<Buffer, KeyObject>();
function keyObjectOf(key: Buffer): KeyObject {
  let object = KEY_OBJECTS.get(key);
  if (!object) KEY_OBJECTS.set(key, (object = createSecretKey(key)));
  return object;
}

function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = pooledRandom(12);
  const cipher = createCipheriv('aes-256-gcm', keyObjectOf(key), iv);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  cipher.final();
  const out = Buffer.allocUnsafe(12 + body.length + 16);
  iv.copy(out, 0);
  body.copy(out, 12);
  cipher.getAuthTag().copy(out, 12 + body.length);
  return out;
}

function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', keyObjectOf(key), sealed.subarray(0, 12));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

export function newDataKey(): Buffer {
  // A copy: a key lives long, and a view would keep its pool alive with it.
  return Buffer.from(pooledRandom(32));
}

// A wrapped key's associated data names its subject: one per person, so never kept in AAD.
const keyLabel = (subject: string) => Buffer.from(`c360 data key ${subject}`);

export function wrapKey(kek: Buffer, dataKey: Buffer, subject: string): Buffer {
  return seal(kek, dataKey, keyLabel(subject));
}

export function unwrapKey(kek: Buffer, wrapped: Buffer, subject: string): Buffer {
  return open(kek, wrapped, keyLabel(subject));
}

/** A personal value, encrypted for its subject: `c360e1.<subject>.<base64url(iv | ciphertext | tag)>`. */
export function encryptValue(subject: string, key: Buffer, path: string, value: unknown): string {
  return `${PREFIX}${subject}.${seal(key, Buffer.from(JSON.stringify(value)), aadOf(path)).toString('base64url')}`;
}

/** The subject a ciphertext (of either format) was made for, or undefined when the text is not one. */
export function subjectOfCiphertext(text: unknown): string | undefined {
  if (typeof text !== 'string' || !(text.startsWith(PREFIX) || text.startsWith(RECORD_PREFIX))) return undefined;
  // A subject is a 22-character pseudonym: anything else that starts alike is not a ciphertext.
  if (text.indexOf('.', PREFIX_LENGTH) !== PREFIX_LENGTH + SUBJECT_LENGTH) return undefined;
  return text.slice(PREFIX_LENGTH, PREFIX_LENGTH + SUBJECT_LENGTH);
}

/**
 * A record's personal values, each with its path, sealed for the subject in one AEAD bound to the
 * entity: the texts to put in their places, in the same order.
 */
export function sealRecord(subject: string, key: Buffer, entity: string, values: Array<[path: string, value: unknown]>): string[] {
  const sealed = seal(key, Buffer.from(JSON.stringify(values)), aadOf(`${RECORD_PREFIX}${entity}`));
  return values.map((_, i) => (i === 0 ? `${RECORD_PREFIX}${subject}.${sealed.toString('base64url')}` : `${RECORD_PREFIX}${subject}.#${i}`));
}

/** Whether a ciphertext is of the record format; `c360e1` values are opened one by one (decryptValue). */
export const isRecordSealed = (text: string): boolean => text.startsWith(RECORD_PREFIX);

/** The values a record's `c360e2` texts hold, from the one that carries them; undefined when `text` is a reference, not the carrier. */
export function openRecord(text: string, key: Buffer, entity: string): Array<[string, unknown]> | undefined {
  const body = text.slice(PREFIX_LENGTH + SUBJECT_LENGTH + 1);
  if (body.startsWith('#')) return undefined;
  return JSON.parse(open(key, Buffer.from(body, 'base64url'), aadOf(`${RECORD_PREFIX}${entity}`)).toString('utf8')) as Array<[string, unknown]>;
}

/** The place in its record's sealed list a `c360e2` text stands for: 0 for the carrier. */
export function recordPlace(text: string): number {
  const body = text.slice(PREFIX_LENGTH + SUBJECT_LENGTH + 1);
  return body.startsWith('#') ? Number(body.slice(1)) : 0;
}

/** The value a ciphertext holds; it throws when the key or the path is not the one it was made with. */
export function decryptValue(text: string, key: Buffer, path: string): unknown {
  const sealed = Buffer.from(text.slice(text.indexOf('.', PREFIX.length) + 1), 'base64url');
  return JSON.parse(open(key, sealed, aadOf(path)).toString('utf8'));
}

/** What a sealed dead-letter value is bound to, as a field's path binds a field's ciphertext. */
export const ORIGINAL_VALUE = 'original_value';
export const ORIGINAL_KEY = 'original_key';
export const originalHeaderLabel = (name: string) => `original_headers.${name}`;

/** Headers c360 itself defines (lineage, Kafka Connect's error headers): kept readable in a dead letter; a producer's own are sealed. */
export const ownHeader = (name: string) => name.startsWith('c360.') || name.startsWith('__connect.');

/** Bytes (a dead letter's original value) sealed for a subject, as the bytes of a ciphertext string. */
export function sealBytes(subject: string, key: Buffer, label: string, bytes: Buffer): Buffer {
  return Buffer.from(encryptValue(subject, key, label, bytes.toString('base64')));
}

/** The bytes `sealBytes` sealed; it throws when the key or the label is not the one they were sealed with. */
export function openBytes(sealed: Buffer, key: Buffer, label: string): Buffer {
  return Buffer.from(decryptValue(sealed.toString('utf8'), key, label) as string, 'base64');
}
