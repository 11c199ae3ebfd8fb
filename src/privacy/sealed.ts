/** Opening what the encrypt stage sealed in dead letters, for the quarantine tools, while the keys exist. */
import { ORIGINAL_VALUE, openBytes, sealBytes, subjectOfCiphertext } from './envelope-keys.js';
import type { KeyStore } from './key-store.js';
import type { RecordPrivacy } from './records.js';

export interface Opened {
  value: Buffer | null;
  /** The value was sealed for a subject whose key is gone: the person was forgotten. */
  forgotten: boolean;
}

/** The subject sealed bytes were sealed for, or undefined when they are not sealed. */
export function sealedFor(bytes: Buffer | null): string | undefined {
  return bytes ? subjectOfCiphertext(bytes.subarray(0, 64).toString('latin1')) : undefined;
}

export class SealedOpener {
  private readonly keys = new Map<string, Buffer | null>();

  constructor(private readonly keyStore: KeyStore) {}

  /** Fetches, in one key-store round trip, the keys these values need (a quarantine file's worth). */
  async prepare(values: Array<Buffer | null>): Promise<void> {
    const unknown = [...new Set(values.map(sealedFor))].filter((s): s is string => s !== undefined && !this.keys.has(s));
    if (unknown.length === 0) return;
    const found = await this.keyStore.existingKeys(unknown);
    for (const s of unknown) this.keys.set(s, found.get(s) ?? null);
  }

  /** Opens bytes sealed for `label` (the original value, key, or a header): as they are when they were never sealed. */
  async open(bytes: Buffer | null, label = ORIGINAL_VALUE): Promise<Opened> {
    const subject = sealedFor(bytes);
    if (!bytes || subject === undefined) return { value: bytes, forgotten: false };
    let key = this.keys.get(subject);
    if (key === undefined) this.keys.set(subject, (key = (await this.keyStore.existingKeys([subject])).get(subject) ?? null));
    return key ? { value: openBytes(bytes, key, label), forgotten: false } : { value: null, forgotten: true };
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
    const { subject, day } = this.records.unidentified(source, receivedAt);
    let key = this.keys.get(subject);
    if (!key) {
      key = (await this.keyStore.keysFor([subject], new Map([[subject, day]]))).get(subject);
      if (!key) throw new Error(`no key could be made for the unidentified dead letters of ${source} on ${day}`);
      this.keys.set(subject, key);
    }
    return sealBytes(subject, key, ORIGINAL_VALUE, bytes);
  }
}
