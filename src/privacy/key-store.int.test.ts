// The key store against the real PostgreSQL: keys made once per subject, whoever asks first,
// and none for a forgotten subject.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { config } from '../../test/support/kafka.js';
import { decryptValue, encryptValue } from './envelope-keys.js';
import { type KeyStore, openKeyStore } from './key-store.js';

const subject = (n: number) => `s${n}${'x'.repeat(21 - String(n).length)}`;

describe('KeyStore.keysFor', () => {
  const namespace = `keys-${randomUUID().slice(0, 8)}`;
  const stores: KeyStore[] = [];
  const open = () => {
    const store = openKeyStore(config, namespace);
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  it('hands back the key it stored, the same key later, and the one key stored when two workers make it at once', async () => {
    const [a, b, c] = [subject(1), subject(2), subject(3)];
    const first = open();
    // A subject asked twice gets the one key that is stored.
    const made = await first.keysFor([a, b, a]);
    expect([...made.keys()].sort()).toEqual([a, b]);
    expect(await first.existingKeys([a, b])).toEqual(made);

    // Asked again (another batch, another worker), the stored keys come back and only the new subject gets a new key.
    const again = await open().keysFor([a, b, c]);
    expect(again.get(a)).toEqual(made.get(a));
    expect(again.get(b)).toEqual(made.get(b));
    expect(again.get(c)).toHaveLength(32);

    // What one worker sealed with the key it made, another worker opens with the key it was handed.
    const sealed = encryptValue(a, made.get(a)!, 'email', 'ann@example.com');
    expect(decryptValue(sealed, again.get(a)!, 'email')).toBe('ann@example.com');

    // Two workers making the keys of the same new subjects at once: each gets the keys that were stored.
    const fresh = Array.from({ length: 50 }, (_, i) => subject(100 + i));
    const [x, y] = await Promise.all([open().keysFor(fresh), open().keysFor(fresh)]);
    const stored = await first.existingKeys(fresh);
    expect(stored.size).toBe(50);
    for (const s of fresh) {
      expect(x.get(s)).toEqual(stored.get(s));
      expect(y.get(s)).toEqual(stored.get(s));
    }
  });

  it('makes no key for a forgotten subject', async () => {
    const store = open();
    const d = subject(7);
    await store.keysFor([d]);
    await store.forget([d]);
    expect((await store.keysFor([d, subject(8)])).has(d)).toBe(false);
    expect(await store.existingKeys([d])).toEqual(new Map());
  });
});
