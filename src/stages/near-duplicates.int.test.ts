import { randomBytes } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../test/support/kafka.js';
import { clearRedis, testNamespace } from '../../test/support/topology.js';
import { readLineage } from '../contracts/lineage.js';
import { createLogger } from '../observability/logger.js';
import { Pseudonyms } from '../privacy/pseudonyms.js';
import { RecordPrivacy } from '../privacy/records.js';
import { compileEntities } from '../schema/entity.js';
import { WriterSchemas } from '../schema/registry.js';
import { createRedis } from '../storage/redis.js';
import { forgetNearDuplicateIdentities } from '../storage/redis-scripts.js';
import { loadTopology } from '../topology/load.js';
import { type Envelope, newEnvelope } from './envelope.js';
import { nearDuplicateStage } from './near-duplicates.js';
import type { Stage } from './stage.js';

// The stage against the real Redis, with a cap of 3 identities per blocking key.
describe('near-duplicate stage (Redis)', () => {
  const namespace = testNamespace();
  const redis = createRedis(config, createLogger('warn'));
  let stage: Stage;
  const pseudonyms = new Pseudonyms(randomBytes(32));
  const identityOf = (customerId: string) => new RecordPrivacy(pseudonyms).identifier('customer_id', customerId)!;
  let crm: ReturnType<typeof compileEntities>[number];
  let offset = 0;

  beforeAll(async () => {
    const topology = await loadTopology('customer360', { namespace });
    topology.nearDuplicateRefsPerKey = 3;
    const sources = new Map(topology.sources.flatMap(compileEntities).map((s) => [s.id, s]));
    crm = sources.get('crm')!;
    await redis.connect();
    stage = nearDuplicateStage.create({
      topology,
      entities: sources,
      entitiesOfSource: new Map([['crm', [crm]]]),
      redis,
      writerSchemas: new WriterSchemas(config),
      pseudonyms,
      keyStore: undefined,
      now: Date.now,
    });
  });
  afterAll(async () => {
    redis.disconnect();
    await clearRedis(namespace);
  });

  function profile(id: string, email: string, lastName: string, at = offset++): Envelope {
    const message = { key: Buffer.from(id), value: Buffer.alloc(0), headers: {}, offset: String(at), timestamp: '0', attributes: 0 } as unknown as KafkaMessage;
    const e = newEnvelope(crm, `${namespace}.ingest.crm`, 0, message, readLineage(message, `${namespace}.ingest.crm`, 0, 'crm'));
    e.value = { customer_id: id, email, first_name: 'Ann', last_name: lastName, phone: null, address: { postal_code: `D0${id.length} X1Y2` } };
    return e;
  }
  const flagged = (batch: Envelope[]) => batch.map((e) => e.nearDuplicates.map((n) => `${n.record.natural_id}~${n.matched.natural_id}:${n.keys.join('+')}`));

  it('flags a record sharing a key with another identity, not with itself, and names both records', async () => {
    const batch = [profile('A1', 'ann.lee@gmail.com', 'Lee'), profile('A1', 'a.n.n.lee+x@gmail.com', 'Lee'), profile('A2', 'annlee@googlemail.com', 'Lee')];
    await stage.process(batch, { heartbeat: async () => undefined, isRunning: () => true });
    // A1 twice is one identity; A2 matches A1 by canonical email and by the sound of the surname + postal code.
    expect(flagged(batch)).toEqual([[], [], ['A2~A1:email+name_postal']]);
    const event = batch[2]!.nearDuplicates[0]!;
    expect(event.matched).toMatchObject({ natural_id: 'A1', offset: 1, partition: 0, source: 'crm' });
    expect(event.score).toBe(1);
  });

  it('stops flagging a key once `cap` other identities share it (a shop till, test@example.com)', async () => {
    const surnames = ['Byrne', 'Murphy', 'Kelly', 'Walsh', 'Doyle'];
    const batch = ['B1', 'B2', 'B3', 'B4', 'B5'].map((id, i) => profile(id, 'test@example.com', surnames[i]!));
    const key = `${namespace}:nd:email:${pseudonyms.of('email', 'test@example.com')}`;
    await stage.process(batch.slice(0, 4), { heartbeat: async () => undefined, isRunning: () => true });
    expect(await redis.zcard(key)).toBe(3); // trimmed to the cap as soon as a fourth identity arrives
    await stage.process(batch.slice(4), { heartbeat: async () => undefined, isRunning: () => true });
    // B4 already sees 3 others (the cap), and so does B5: the key is too common to mean anything.
    expect(flagged(batch)).toEqual([[], ['B2~B1:email'], ['B3~B1:email', 'B3~B2:email'], [], []]);
    expect(await redis.zrange(key, '0', '-1')).toEqual(['B3', 'B4', 'B5'].map((id) => identityOf(id)));
  });

  it('leaves no personal value in Redis in plain text: blocking keys are pseudonyms, stored names are sealed', async () => {
    const batch = [profile('P1', 'Orla.Quinn@Example.org', 'Quinnelly'), profile('P2', 'orla.quinn@example.org', 'Quinnelly')];
    await stage.process(batch, { heartbeat: async () => undefined, isRunning: () => true });
    expect(batch[1]!.nearDuplicates.map((n) => n.score)).toEqual([1]);
    const keys = await redis.keys(`${namespace}:*`);
    expect(keys.length).toBeGreaterThan(4);
    const stored: string[] = [...keys];
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'string') stored.push((await redis.get(key)) ?? '');
      if (type === 'zset') stored.push(...(await redis.zrange(key, '0', '-1')));
    }
    // Case-sensitive, and strings no base64url pseudonym can hold by chance (dots, @, spaces).
    const everything = stored.join('\n');
    for (const personal of ['orla.quinn@example.org', 'Orla.Quinn', 'example.org', 'Quinnelly', 'ann quinnelly', 'D02 X1Y2', 'X1Y2'])
      expect(everything).not.toContain(personal);
  });

  it('forgets an identity: it leaves every blocking key, and its ref and index go', async () => {
    const batch = [profile('F1', 'fiona@example.net', 'Ferris'), profile('F2', 'fiona@example.net', 'Ferris')];
    await stage.process(batch, { heartbeat: async () => undefined, isRunning: () => true });
    const emailKey = `${namespace}:nd:email:${pseudonyms.of('email', 'fiona@example.net')}`;
    expect((await redis.zrange(emailKey, '0', '-1')).sort()).toEqual([identityOf('F1'), identityOf('F2')].sort());
    expect(await forgetNearDuplicateIdentities(redis, namespace, [identityOf('F1')])).toBeGreaterThanOrEqual(3);
    expect(await redis.zrange(emailKey, '0', '-1')).toEqual([identityOf('F2')]);
    expect(await redis.exists(`${namespace}:ndref:${identityOf('F1')}`, `${namespace}:ndkeys:${identityOf('F1')}`)).toBe(0);
    const all = await redis.keys(`${namespace}:nd:*`);
    for (const key of all) expect(await redis.zrange(key, '0', '-1')).not.toContain(identityOf('F1'));
  });
});
