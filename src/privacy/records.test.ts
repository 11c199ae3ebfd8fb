import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crmProfile, webEvent } from '../../test/fixtures/records.js';
import { offlineContext } from '../../test/support/stages.js';
import { loadSchema } from '../schema/avro.js';
import { encryptedSchema } from '../schema/personal.js';
import { decryptValue, encryptValue, openBytes, sealBytes, subjectOfCiphertext, unwrapKey, wrapKey } from './envelope-keys.js';
import { canonicalIdentifier } from './identifiers.js';
import { Pseudonyms } from './pseudonyms.js';
import { RecordPrivacy } from './records.js';

const ctx = offlineContext();
const crm = ctx.entities.get('crm')!;
const web = ctx.entities.get('web')!;
const product = ctx.entities.get('commerce/Product')!;
const pseudonyms = new Pseudonyms(randomBytes(32));
const records = new RecordPrivacy(pseudonyms);
const decoded = (entity: typeof crm, value: unknown) => entity.coerceJson(value).value as Record<string, unknown>;

describe('field encryption', () => {
  const key = randomBytes(32);
  const subject = 'A'.repeat(22);

  it('round-trips any Avro value, bound to its path and key', () => {
    for (const v of ['ann@example.com', 7395, 53.3498, { a: 1 }]) {
      const text = encryptValue(subject, key, 'email', v);
      expect(text.startsWith(`c360e1.${subject}.`)).toBe(true);
      expect(subjectOfCiphertext(text)).toBe(subject);
      expect(decryptValue(text, key, 'email')).toEqual(v);
    }
    const text = encryptValue(subject, key, 'email', 'ann@example.com');
    expect(() => decryptValue(text, key, 'phone')).toThrow();
    expect(() => decryptValue(text, randomBytes(32), 'email')).toThrow();
    expect(encryptValue(subject, key, 'email', 'x')).not.toBe(encryptValue(subject, key, 'email', 'x'));
  });

  it('wraps data keys under the KEK, per subject', () => {
    const kek = randomBytes(32);
    const wrapped = wrapKey(kek, key, subject);
    expect(unwrapKey(kek, wrapped, subject)).toEqual(key);
    expect(() => unwrapKey(kek, wrapped, 'B'.repeat(22))).toThrow();
    expect(() => unwrapKey(randomBytes(32), wrapped, subject)).toThrow();
  });

  it('seals bytes, and takes only its own prefix for a ciphertext', () => {
    const sealed = sealBytes(subject, key, 'original_value', Buffer.from('{"email":"ann@example.com"}'));
    expect(sealed.toString()).not.toContain('ann');
    expect(openBytes(sealed, key, 'original_value').toString()).toBe('{"email":"ann@example.com"}');
    expect(subjectOfCiphertext('c360e1.short.x')).toBeUndefined();
    expect(subjectOfCiphertext('ann@example.com')).toBeUndefined();
  });
});

describe('the encrypted schema', () => {
  it('turns every personal field into a (nullable) string and leaves the rest', () => {
    const fields = (encryptedSchema(loadSchema('CustomerProfile').schema).fields as { name: string; type: unknown; 'c360.encrypted'?: boolean }[]).map((f) => [
      f.name,
      f['c360.encrypted'] ?? false,
    ]);
    expect(Object.fromEntries(fields)).toMatchObject({
      customer_id: false,
      email: true,
      first_name: true,
      birth_date: true,
      loyalty_tier: false,
      address: false,
    });
    const birth = (encryptedSchema(loadSchema('CustomerProfile').schema).fields as { name: string; type: unknown }[]).find((f) => f.name === 'birth_date')!;
    expect(birth.type).toEqual(['null', 'string']);
  });
});

describe('a record and its person', () => {
  it("names the subject by the entity's subject fields, in order, and by the record when none is present", () => {
    const profile = decoded(crm, crmProfile);
    expect(records.personOf(crm, profile).subject).toBe(records.identifier('customer_id', 'C-1001'));
    const anonymous = decoded(web, { ...webEvent, customer_id: null, email: 'Ann.Lee@GMail.com' });
    expect(records.personOf(web, anonymous).subject).toBe(records.identifier('email', 'annlee@gmail.com'));
    // An email that names no one (no canonical form) is passed over for the next subject field, the device.
    const unnamed = decoded(web, { ...webEvent, customer_id: null, email: 'not an email' });
    expect(records.personOf(web, unnamed).subject).toBe(records.identifier('device', webEvent.device.device_id));
    const nobody = decoded(web, { ...webEvent, customer_id: null, email: null, anonymous_id: null, device: { ...webEvent.device, device_id: null } });
    const { subject, identifiers } = records.personOf(web, nobody);
    expect(subject).toBe(pseudonyms.of('id:record', `${web.id}/${webEvent.event_id}`));
    expect(identifiers).not.toContain(subject);
  });

  it('gathers every identifier that leads to the person, canonical', () => {
    const ids = records.personOf(web, decoded(web, webEvent)).identifiers;
    expect(ids).toEqual(expect.arrayContaining([records.identifier('customer_id', 'C-1001'), records.identifier('device', webEvent.device.device_id)]));
    expect(canonicalIdentifier('phone', '+353 86 123-4567')).toBe('+353861234567');
  });

  it('encrypts every personal field, nested ones included, and decrypts them while the key exists', () => {
    const value = decoded(crm, crmProfile);
    const plain = structuredClone(value);
    const { subject } = records.personOf(crm, value);
    const key = randomBytes(32);
    records.encrypt(crm, value, subject, key);
    // One AEAD for the record: the first personal value carries every value sealed, the others name their place in it.
    expect(String(value.email)).toMatch(new RegExp(`^c360e2\\.${subject}\\.[A-Za-z0-9_-]{40,}$`));
    expect(String((value.address as Record<string, unknown>).line1)).toMatch(new RegExp(`^c360e2\\.${subject}\\.#\\d+$`));
    expect((value.address as Record<string, unknown>).city).toBe('Dublin');
    expect(value.loyalty_tier).toBe('GOLD');
    // The encrypted record is a valid record of the encrypted schema.
    expect(crm.encrypted.type.isValid(value)).toBe(true);
    expect(records.subjectsIn(crm, value)).toEqual([subject]);
    const readable = structuredClone(value);
    expect(records.decrypt(crm, readable, new Map([[subject, key]]))).toEqual({ forgotten: false });
    expect(readable).toEqual(plain);
    const forgotten = structuredClone(value);
    expect(records.decrypt(crm, forgotten, new Map())).toEqual({ forgotten: true });
    expect(forgotten.email).toBeNull();
    expect(forgotten.customer_id).toBe('C-1001');
  });

  it('still reads records sealed a value at a time (c360e1), and refuses a sealed value moved to another place', () => {
    const value = decoded(crm, crmProfile);
    const plain = structuredClone(value);
    const { subject } = records.personOf(crm, value);
    const key = randomBytes(32);
    // What records written before the one-AEAD format hold: each value sealed alone, bound to its path.
    const old = structuredClone(value);
    for (const field of ['email', 'first_name', 'last_name', 'phone', 'birth_date']) old[field] = encryptValue(subject, key, field, old[field]);
    const address = old.address as Record<string, unknown>;
    for (const field of ['line1', 'postal_code']) address[field] = encryptValue(subject, key, `address.${field}`, address[field]);
    expect(records.subjectsIn(crm, old)).toEqual([subject]);
    expect(records.decrypt(crm, old, new Map([[subject, key]]))).toEqual({ forgotten: false });
    expect(old).toEqual(plain);

    records.encrypt(crm, value, subject, key);
    const swapped = structuredClone(value);
    [swapped.first_name, swapped.last_name] = [swapped.last_name, swapped.first_name];
    expect(() => records.decrypt(crm, swapped, new Map([[subject, key]]))).toThrow('is not the one sealed there');
  });

  it('finds identifiers in free-form fields: emails anywhere (URL-encoded too), phones and earlier ids under keys that say so', () => {
    const value = decoded(web, {
      ...webEvent,
      customer_id: null,
      anonymous_id: 'anon-1',
      device: null,
      page_url: 'https://shop.example/welcome?email=niamh.quigley%40example.org',
      properties: { note: 'write to Ann.Lee+x@GMail.com', mobilePhone: '+353 87 765 4321', previous_id: 'ANON-0', plan: 'gold' },
    });
    const { subject, identifiers } = records.personOf(web, value);
    expect(subject).toBe(records.identifier('online_id', 'anon-1'));
    expect(identifiers).toEqual(
      expect.arrayContaining([
        records.identifier('email', 'niamh.quigley@example.org'),
        records.identifier('email', 'annlee@gmail.com'),
        records.identifier('phone', '+353877654321'),
        records.identifier('online_id', 'anon-0'),
        records.identifier('customer_id', 'ANON-0'),
      ]),
    );
    expect(identifiers).not.toContain(records.identifier('customer_id', 'gold'));
  });

  it('seals free-form fields as a whole, and an id field that holds an email, and opens them again', () => {
    const value = decoded(web, { ...webEvent, customer_id: 'Ann@Example.com', properties: { full_name: 'Ann Lee' } });
    const plain = structuredClone(value);
    const person = records.personOf(web, value);
    // The email userId is the customer id and the email at once: an erasure by either reaches it.
    expect(person.subject).toBe(records.identifier('customer_id', 'Ann@Example.com'));
    expect(person.identifiers).toContain(records.identifier('email', 'ann@example.com'));
    const key = randomBytes(32);
    records.encrypt(web, value, person.subject, key);
    for (const field of ['customer_id', 'page_url', 'properties']) expect(String(value[field])).toMatch(/^c360e2\./);
    expect(web.encrypted.type.isValid(value)).toBe(true);
    const readable = structuredClone(value);
    expect(records.decrypt(web, readable, new Map([[person.subject, key]]))).toEqual({ forgotten: false });
    expect(readable).toEqual(plain);
    // A customer id that is an id stays in clear.
    const plainId = decoded(web, webEvent);
    records.encrypt(web, plainId, records.personOf(web, plainId).subject, key);
    expect(plainId.customer_id).toBe('C-1001');
  });

  it('seals any other string field a sender wrote an email into, and links that email', () => {
    const value = decoded(web, { ...webEvent, event_name: 'Newsletter for ann@example.com', geo: { ...webEvent.geo, city: 'Dublin' } });
    const person = records.personOf(web, value);
    expect(person.identifiers).toContain(records.identifier('email', 'ann@example.com'));
    const key = randomBytes(32);
    records.encrypt(web, value, person.subject, key);
    expect(String(value.event_name)).toMatch(/^c360e2\./);
    expect((value.geo as Record<string, unknown>).city).toBe('Dublin');
    expect(value.event_id).toBe(webEvent.event_id);
    const readable = structuredClone(value);
    records.decrypt(web, readable, new Map([[person.subject, key]]));
    expect(readable.event_name).toBe('Newsletter for ann@example.com');
  });

  it('has nothing to do for an entity without personal fields', () => {
    expect(records.holdsPersonalData(product)).toBe(false);
    expect(records.holdsPersonalData(crm)).toBe(true);
  });
});
