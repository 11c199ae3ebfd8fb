// The privacy stages against the real key store (PostgreSQL) and Redis, with a key cache of two
// entries: a batch whose new keys fill the cache (which then clears) still encrypts the records
// whose keys it found in the cache; and an erasure that lands between the suppress and the encrypt
// stage, by an identifier nothing links yet, still keeps the person's record from being stored.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../test/support/kafka.js';
import { nearDuplicateState } from '../../test/support/near-duplicates.js';
import { emptyChangelog, envelopeOf } from '../../test/support/stages.js';
import { testNamespace } from '../../test/support/topology.js';
import { topicNames } from '../contracts/topic-names.js';
import { type KeyStore, openKeyStore } from '../privacy/key-store.js';
import { pseudonymsFrom } from '../privacy/pseudonyms.js';
import { RecordPrivacy } from '../privacy/records.js';
import { compileEntities } from '../schema/entity.js';
import { WriterSchemas } from '../schema/registry.js';
import { DIGEST_BYTES, identityDigest, touchNearDuplicateKeys } from '../storage/near-duplicate-state.js';
import { loadTopology } from '../topology/load.js';
import { type Envelope, reject } from './envelope.js';
import { encryptStage, suppressStage } from './privacy.js';
import type { Stage } from './stage.js';

describe('encrypt stage with a small key cache (key store on PostgreSQL)', () => {
  const namespace = testNamespace();
  let keyStore: KeyStore;
  let stage: Stage;
  let suppress: Stage;
  let redis: Redis;
  let crm: ReturnType<typeof compileEntities>[number];
  const records = new RecordPrivacy(pseudonymsFrom(config, 'test'));
  const control = { heartbeat: async () => undefined, isRunning: () => true };
  const windowMs = 86_400_000;

  beforeAll(async () => {
    const topology = await loadTopology('customer360', { namespace });
    topology.dedupWindowDays = windowMs / 86_400_000;
    crm = compileEntities(topology.sources.find((s) => s.name === 'crm')!)[0]!;
    keyStore = openKeyStore(config, namespace);
    redis = new Redis(config.redisUrl);
    const ctx = {
      topology,
      entities: new Map([['crm', crm]]),
      entitiesOfSource: new Map([['crm', [crm]]]),
      redis,
      writerSchemas: new WriterSchemas(config),
      pseudonyms: pseudonymsFrom(config, 'test'),
      keyStore,
      cacheEntries: 2,
      readChangelog: emptyChangelog,
      now: Date.now,
    };
    stage = encryptStage.create(ctx);
    suppress = suppressStage.create(ctx);
  });
  afterAll(async () => {
    redis?.disconnect();
    await keyStore?.close();
  });

  const profile = (id: string): Envelope => {
    const e = envelopeOf(crm, '', {}, id);
    e.value = { customer_id: id, email: `${id.toLowerCase()}@example.com`, first_name: 'Ann', last_name: 'Lee', phone: null, address: null };
    return e;
  };

  it('encrypts every record of a batch that fills and clears the cache', async () => {
    await stage.process([profile('A'), profile('B')], control);
    // A and B are cached; C and D are new, and remembering them clears the full cache mid-batch.
    const batch = ['A', 'B', 'C', 'D'].map(profile);
    await stage.process(batch, control);
    expect(batch.map((e) => e.outcome)).toEqual(['pending', 'pending', 'pending', 'pending']);
    expect(batch.map((e) => e.encrypted)).toEqual([true, true, true, true]);
    expect(String(batch[0]!.value!.email)).toMatch(/^c360e2\./);
  });

  it('suppresses, and makes no key for, a record whose person is forgotten between the suppress and the encrypt stage', async () => {
    const batch = [profile('E'), profile('F')];
    await suppress.process(batch, control);
    expect(batch.map((e) => e.outcome)).toEqual(['pending', 'pending']);
    // Nothing links E's address to E yet: the erasure finds no subject, and suppresses the address.
    const erasure = await keyStore.forget([records.identifier('email', 'e@example.com')!]);
    expect(erasure.subjects).toEqual([]);
    await stage.process(batch, control);
    expect(batch.map((e) => e.outcome)).toEqual(['suppressed', 'pending']);
    expect(batch[0]!.value!.email).toBe('e@example.com');
    const subjectE = records.identifier('customer_id', 'E')!;
    expect(await keyStore.existingKeys([subjectE])).toEqual(new Map());
  });

  it('suppresses the records of a person forgotten while their key is in the cache, and what the near-duplicate stage wrote of them since', async () => {
    const first = [profile('G')];
    await stage.process(first, control);
    expect(first[0]!.encrypted).toBe(true);
    await keyStore.forget([records.identifier('customer_id', 'G')!]);
    // The near-duplicate stage of a batch the suppress stage let through before the erasure writes after its cleanup.
    const identity = records.identifier('customer_id', 'G')!;
    const key = pseudonymsFrom(config, 'test').digest('email', 'g@example.com', DIGEST_BYTES);
    const ref = { identity: identityDigest(identity), keys: [key], counters: [], ref: Buffer.from('sealed') };
    const marker = `${namespace}:nd:epoch`;
    await redis.set(marker, 'test');
    await touchNearDuplicateKeys(redis, [ref], { now: Date.now(), cap: 10, windowMs, namespace, marker });
    const state = nearDuplicateState(redis, namespace, windowMs);
    expect(await state.hasRef(identity)).toBe(true);
    // Same identifiers (key and links cached, nothing to make) and a new identifier: both suppressed.
    const same = profile('G');
    const changed = profile('G');
    changed.value!.email = 'g-new@example.com';
    // The near-duplicate stage wrote a changelog entry for the first of them; someone else's record lands between them.
    const changelog = topicNames(namespace).nearDuplicateChangelog;
    same.stateChanges.push({ changelog, key: Buffer.from('g-entry'), value: Buffer.from('sealed'), epoch: 'test' });
    const other = profile('K');
    await stage.process([same, other, changed], control);
    expect([same.outcome, other.outcome, changed.outcome]).toEqual(['suppressed', 'pending', 'suppressed']);
    expect(same.value!.email).toBe('g@example.com');
    expect(await state.names(identity)).toBe(false);
    // Her entry is gone and tombstones cover her identities' entries, after everything of the batch in its transaction's order.
    const changes = [same, other, changed].map((e) => e.stateChanges.filter((c) => c.changelog === changelog).map((c) => c.value));
    expect(changes[0]).toEqual([]);
    expect(changes[1]).toEqual([]);
    expect(changes[2]!.length).toBeGreaterThanOrEqual(5);
    expect(changes[2]!.every((v) => v === null)).toBe(true);
  });

  it("seals a dead letter's value, its key when it is an email, and the producer's own headers; c360's lineage stays readable", async () => {
    const e = envelopeOf(crm, '{"customer_id":"H","email":"h@example.com"}', { 'x-user': 'h@example.com', 'c360.source': 'crm' }, 'H@Example.com');
    e.value = { customer_id: 'H', email: 'h@example.com', first_name: 'Hannah', last_name: 'Lee', phone: null, address: null };
    reject(e, 'quality', [{ code: 'quality.email_invalid', field: 'email', message: 'test' }]);
    const id = envelopeOf(crm, '{"customer_id":"I"}', {}, 'I');
    id.value = { customer_id: 'I', email: 'i@example.com', first_name: 'Ian', last_name: 'Lee', phone: null, address: null };
    reject(id, 'quality', [{ code: 'quality.email_invalid', field: 'email', message: 'test' }]);
    await stage.process([e, id], control);
    const sealed = e.sealedOriginal!;
    for (const bytes of [sealed.value, sealed.key!, sealed.headers['x-user'] as Buffer]) expect(bytes.toString()).toMatch(/^c360e1\./);
    expect(String(sealed.headers['c360.source'])).toBe('crm');
    expect(JSON.stringify([sealed.key?.toString(), sealed.value.toString(), String(sealed.headers['x-user'])])).not.toMatch(/example|Hannah/i);
    // A key that is an id stays readable, as the raw layer's _key does.
    expect(id.sealedOriginal!.key!.toString()).toBe('I');
  });
});
