/** Opening what the encrypt stage sealed in dead letters, for the quarantine tools, while the keys exist. */
import { ORIGINAL_VALUE, openBytes, sealBytes, subjectOfCiphertext } from './envelope-keys.js';
import type { KeyStore } from './key-store.js';
import type { RecordPrivacy } from './records.js';

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

/**
 * Seals what is dead-lettered outside the topology (file rows that could not be mapped, whose
 * columns name no contract field): under the source and ingest day's key, as the encrypt stage
 * seals records that did not decode, so `c360 privacy forget-unidentified` reaches them too.
 */
export class UnidentifiedSealer {
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly keyStore: KeyStore,
    private readonly records: RecordPrivacy,
  ) {}

  async seal(source: string, receivedAt: number, bytes: Buffer): Promise<Buffer> {
    const day = new Date(receivedAt).toISOString().slice(0, 10);
    const subject = this.records.unidentified(source, day);
    let key = this.keys.get(subject);
    if (!key) {
      key = (await this.keyStore.keysFor([subject], new Map([[subject, day]]))).get(subject);
      if (!key) throw new Error(`no key could be made for the unidentified dead letters of ${source} on ${day}`);
      this.keys.set(subject, key);
    }
    return sealBytes(subject, key, ORIGINAL_VALUE, bytes);
  }
}
