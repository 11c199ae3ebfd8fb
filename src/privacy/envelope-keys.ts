/**
 * Crypto-shredding's keys: a random AES-256 data key per subject (a person, as docs/privacy.md
 * defines one), kept only wrapped — AES-256-GCM under the key-encryption key C360_KEK (or, in a
 * deployment, a KMS: docs/privacy.md). A personal value becomes `c360e1.<subject>.<sealed>`:
 * the subject's pseudonym names the key, the sealed bytes are AES-256-GCM of the value's JSON with
 * the field's path as associated data. Deleting the subject's key leaves the value unreadable for good.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { pooledRandom } from './random.js';

const PREFIX = 'c360e1.';

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

/** The subject a ciphertext was made for, or undefined when the text is not one. */
export function subjectOfCiphertext(text: unknown): string | undefined {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) return undefined;
  const end = text.indexOf('.', PREFIX.length);
  // A subject is a 22-character pseudonym: anything else that starts alike is not a ciphertext.
  if (end !== PREFIX.length + 22) return undefined;
  return end < 0 ? undefined : text.slice(PREFIX.length, end);
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
