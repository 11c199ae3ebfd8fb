// The encrypt stage against the real key store (PostgreSQL), with a key cache of two entries: a
// batch whose new keys fill the cache (which then clears) still encrypts the records whose keys
// it found in the cache — none is taken for a forgotten person's and dropped as suppressed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../test/support/kafka.js';
import { envelopeOf } from '../../test/support/stages.js';
import { testNamespace } from '../../test/support/topology.js';
import { type KeyStore, openKeyStore } from '../privacy/key-store.js';
import { pseudonymsFrom } from '../privacy/pseudonyms.js';
import { compileEntities } from '../schema/entity.js';
import { WriterSchemas } from '../schema/registry.js';
import { loadTopology } from '../topology/load.js';
import type { Envelope } from './envelope.js';
import { encryptStage } from './privacy.js';
import type { Stage } from './stage.js';

describe('encrypt stage with a small key cache (key store on PostgreSQL)', () => {
  const namespace = testNamespace();
  let keyStore: KeyStore;
  let stage: Stage;
  let crm: ReturnType<typeof compileEntities>[number];

  beforeAll(async () => {
    const topology = await loadTopology('customer360', { namespace });
    crm = compileEntities(topology.sources.find((s) => s.name === 'crm')!)[0]!;
    keyStore = openKeyStore(config, namespace);
    stage = encryptStage.create({
      topology,
      entities: new Map([['crm', crm]]),
      entitiesOfSource: new Map([['crm', [crm]]]),
      redis: undefined as never,
      writerSchemas: new WriterSchemas(config),
      pseudonyms: pseudonymsFrom(config, 'test'),
      keyStore,
      cacheEntries: 2,
      now: Date.now,
    });
  });
  afterAll(() => keyStore?.close());

  const profile = (id: string): Envelope => {
    const e = envelopeOf(crm, '', {}, id);
    e.value = { customer_id: id, email: `${id.toLowerCase()}@example.com`, first_name: 'Ann', last_name: 'Lee', phone: null, address: null };
    return e;
  };

  it('encrypts every record of a batch that fills and clears the cache', async () => {
    const control = { heartbeat: async () => undefined, isRunning: () => true };
    await stage.process([profile('A'), profile('B')], control);
    // A and B are cached; C and D are new, and remembering them clears the full cache mid-batch.
    const batch = ['A', 'B', 'C', 'D'].map(profile);
    await stage.process(batch, control);
    expect(batch.map((e) => e.outcome)).toEqual(['pending', 'pending', 'pending', 'pending']);
    expect(batch.map((e) => e.encrypted)).toEqual([true, true, true, true]);
    expect(String(batch[0]!.value!.email)).toMatch(/^c360e1\./);
  });
});
