/**
 * Personal values kept outside the records — near-duplicate blocking keys and match profiles in
 * Redis — never in plain text. A pseudonym is a keyed one-way stand-in (HMAC-SHA256 with
 * C360_PII_KEY): equal values give equal pseudonyms, and without the key nothing links one back to
 * a person. A value that must be read again (a name to score a match with) is sealed instead
 * (AES-256-GCM under a key derived from the same secret).
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { Config } from '../config.js';
import { ConfigError } from '../contracts/errors.js';
import { pooledRandom } from './random.js';

/** Pseudonyms remembered at most (a few MiB). */
const RECENT_MAX = 20_000;

export class Pseudonyms {
  // KeyObjects, made once: Node 24 otherwise turns a Buffer key into one on every call, most of an HMAC's cost.
  private readonly key: KeyObject;
  private readonly sealKey: KeyObject;
  /**
   * Pseudonyms made lately: one record's identifiers are asked for by several stages, and a
   * customer's by each of their events. Bounded: cleared when full.
   */
  private readonly recent = new Map<string, string>();

  constructor(key: Buffer) {
    this.key = createSecretKey(key);
    this.sealKey = createSecretKey(Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'c360 sealed values', 32)));
  }

  /** 128 bits of HMAC-SHA256 over the kind and the value, base64url. */
  of(kind: string, value: string): string {
    // One joined text: the same bytes as three updates, in one call into C++ instead of three.
    const text = `${kind}\0${value}`;
    let pseudonym = this.recent.get(text);
    if (pseudonym === undefined) {
      if (this.recent.size >= RECENT_MAX) this.recent.clear();
      pseudonym = createHmac('sha256', this.key).update(text).digest('base64url').slice(0, 22);
      this.recent.set(text, pseudonym);
    }
    return pseudonym;
  }

  /**
   * The first `bytes` (at most 16) bytes of the same HMAC: the compact form state in Redis keeps.
   * Taken from the HMAC's bytes, not through the remembered text: blocking keys and names are many
   * and seldom asked twice in a row, where the text and its base64 round trip cost more than the HMAC.
   */
  digest(kind: string, value: string, bytes: number): Buffer {
    return createHmac('sha256', this.key).update(`${kind}\0${value}`).digest().subarray(0, Math.min(bytes, 16));
  }

  /** Nonce, ciphertext and tag: 28 bytes more than the plain bytes. */
  seal(plain: Buffer): Buffer {
    const iv = pooledRandom(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    return Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  }

  /** The sealed bytes, or undefined when they were sealed under another key or altered. */
  open(bytes: Buffer): Buffer | undefined {
    if (bytes.length < 28) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, bytes.subarray(0, 12));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
    } catch {
      return undefined;
    }
  }
}

/** The process's pseudonyms, or one sentence saying which setting is missing. */
export function pseudonymsFrom(config: Config, needer: string): Pseudonyms {
  if (!config.piiKey) {
    throw new ConfigError(
      `C360_PII_KEY is not set (nor C360_PII_KEY_FILE, nor ${config.home}/secrets/pii.key): ${needer} keeps personal values only as keyed hashes and needs the secret.`,
    );
  }
  return new Pseudonyms(config.piiKey);
}
