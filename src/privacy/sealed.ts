/** Opening what the encrypt stage sealed in dead letters, for the quarantine tools, while the keys exist. */
import { ORIGINAL_VALUE, openBytes, subjectOfCiphertext } from './envelope-keys.js';
import type { KeyStore } from './key-store.js';

export interface Opened {
  value: Buffer | null;
  /** The value was sealed for a subject whose key is gone: the person was forgotten. */
  forgotten: boolean;
}

export class SealedOpener {
  private readonly keys = new Map<string, Buffer | null>();

  constructor(private readonly keyStore: KeyStore) {}

  async open(bytes: Buffer | null): Promise<Opened> {
    const subject = bytes ? subjectOfCiphertext(bytes.subarray(0, 64).toString('latin1')) : undefined;
    if (!bytes || subject === undefined) return { value: bytes, forgotten: false };
    let key = this.keys.get(subject);
    if (key === undefined) this.keys.set(subject, (key = (await this.keyStore.existingKeys([subject])).get(subject) ?? null));
    return key ? { value: openBytes(bytes, key, ORIGINAL_VALUE), forgotten: false } : { value: null, forgotten: true };
  }
}
