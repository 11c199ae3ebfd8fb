import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config, testKafka } from '../../test/support/kafka.js';
import { nearDuplicateState } from '../../test/support/near-duplicates.js';
import { emptyChangelog, envelopeOf } from '../../test/support/stages.js';
import { clearRedis, produce, testNamespace } from '../../test/support/topology.js';
import { topicNames } from '../contracts/topic-names.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { DEFAULT_MODEL } from '../matching/model.js';
import { createLogger } from '../observability/logger.js';
import { Pseudonyms } from '../privacy/pseudonyms.js';
import { RecordPrivacy } from '../privacy/records.js';
import { compileEntities } from '../schema/entity.js';
import { WriterSchemas } from '../schema/registry.js';
import { DIGEST_BYTES, forgetNearDuplicateIdentities, identityDigest } from '../storage/near-duplicate-state.js';
import { createRedis } from '../storage/redis.js';
import { bucketOf } from '../storage/sliced-state.js';
import { loadTopology } from '../topology/load.js';
import { createTopologyTopics } from '../topology/setup.js';
import type { Envelope } from './envelope.js';
import { nearDuplicateStage } from './near-duplicates.js';
import type { Stage } from './stage.js';

// The stage against the real Redis, with a cap of 3 identities per blocking key and the built-in model.
describe('near-duplicate stage (Redis)', () => {
  const kafka = testKafka();
  const namespace = testNamespace();
  const redis = createRedis(config, createLogger('warn'));
  /** Emits every candidate (threshold 0), to see blocking alone. */
  let stage: Stage;
  /** The default threshold. */
  let scoring: Stage;
  const pseudonyms = new Pseudonyms(randomBytes(32));
  const identityOf = (customerId: string) => new RecordPrivacy(pseudonyms).identifier('customer_id', customerId)!;
  const digestOf = (customerId: string) => identityDigest(identityOf(customerId)).toString('hex');
  let state: ReturnType<typeof nearDuplicateState>;
  let windowMs = 0;
  const identitiesUnder = (key: Buffer) => state.identitiesUnder(key);
  let crm: ReturnType<typeof compileEntities>[number];
  /** The stage on a topology of its own namespace, its changelog read from Kafka. */
  let onChangelog: (namespace: string) => Promise<Stage>;

  beforeAll(async () => {
    const topology = await loadTopology('customer360', { namespace });
    topology.nearDuplicateRefsPerKey = 3;
    windowMs = Math.round(topology.dedupWindowDays * 86_400_000);
    state = nearDuplicateState(redis, namespace, windowMs);
    const sources = new Map(topology.sources.flatMap(compileEntities).map((s) => [s.id, s]));
    crm = sources.get('crm')!;
    await redis.connect();
    const create = (threshold: number, ns = namespace, readChangelog = emptyChangelog) =>
      nearDuplicateStage.create({
        topology: { ...topology, namespace: ns, matching: { ...topology.matching, threshold } },
        entities: sources,
        entitiesOfSource: new Map([['crm', [crm]]]),
        redis,
        writerSchemas: new WriterSchemas(config),
        pseudonyms,
        keyStore: undefined,
        cacheEntries: 100_000,
        readChangelog,
        now: Date.now,
      });
    onChangelog = async (ns) => {
      await createTopologyTopics(kafka, { ...topology, namespace: ns }, config.topics);
      return create(0, ns, (topic, each) => readToEnd(kafka, topic, each));
    };
    stage = create(0);
    scoring = create(topology.matching.threshold);
  });
  afterAll(async () => {
    redis.disconnect();
    await clearRedis(namespace);
  });

  function profile(id: string, email: string, lastName: string, more: Record<string, unknown> = {}): Envelope {
    const e = envelopeOf(crm, '', {}, id);
    e.value = { customer_id: id, email, first_name: 'Ann', last_name: lastName, phone: null, address: { postal_code: `D0${id.length} X1Y2` }, ...more };
    return e;
  }
  const control = { heartbeat: async () => undefined, isRunning: () => true };
  const flagged = (batch: Envelope[]) => batch.map((e) => e.nearDuplicates.map((n) => `${n.record.natural_id}~${n.matched.natural_id}:${n.keys.join('+')}`));

  it('flags a record sharing a key with another identity, not with itself, and names both records', async () => {
    const batch = [profile('A1', 'ann.lee@gmail.com', 'Lee'), profile('A1', 'a.n.n.lee+x@gmail.com', 'Lee'), profile('A2', 'annlee@googlemail.com', 'Lee')];
    await scoring.process(batch, control);
    // A1 twice is one identity; A2 matches A1 by canonical email and by the sound of the surname + postal code.
    expect(flagged(batch)).toEqual([[], [], ['A2~A1:email+name_postal']]);
    const event = batch[2]!.nearDuplicates[0]!;
    expect(event.matched).toMatchObject({ natural_id: 'A1', offset: 1, partition: 0, source: 'crm' });
    expect(event.score).toBe(1);
    // What the identity service acts on: the probability, the weight and each field's level.
    expect(event.levels).toEqual({ first_name: 'exact', last_name: 'exact', email: 'exact', postal_code: 'exact' });
    // The built-in model's prior log-odds plus log2(m/u) of each field's exact level (too few identities for term frequencies).
    const { prior, comparisons } = DEFAULT_MODEL;
    const weight = ['first_name', 'last_name', 'email', 'postal_code'].reduce(
      (w, f) => w + Math.log2(comparisons[f]!.m[0]! / comparisons[f]!.u[0]!),
      Math.log2(prior / (1 - prior)),
    );
    expect(event.match_weight).toBeCloseTo(weight, 5);
    expect(event.probability).toBeCloseTo(1 / (1 + 2 ** -weight), 5);
    expect(event.probability).toBeGreaterThanOrEqual(0.5);
  });

  it('keeps and scores a stored profile of any length: an address longer than a 2-byte length holds', async () => {
    const line1 = `${'1 Main Street '.repeat(5_000)}`;
    const batch = [
      profile('L1', 'long.address@example.com', 'Lee', { address: { line1, postal_code: 'D01 X1Y2' } }),
      profile('L2', 'long.address@example.com', 'Lee', { address: { line1, postal_code: 'D01 X1Y2' } }),
    ];
    await stage.process(batch, control);
    expect(flagged(batch)).toEqual([[], ['L2~L1:email+name_postal']]);
  });

  it('emits only pairs at or above the threshold: a family at one address is counted, not flagged; the same person moved house with a new email is flagged', async () => {
    const home = { address: { line1: '12 rue Oberkampf', postal_code: '75011' } };
    const birth = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
    const batch = [
      profile('G1', 'anne.garnier@free.fr', 'Garnier', { ...home, first_name: 'Anne', phone: '+33612345678', birth_date: birth('1971-04-12') }),
      profile('G2', 'lucas.garnier@gmail.com', 'Garnier', { ...home, first_name: 'Lucas', phone: '+33143556677', birth_date: birth('2003-09-30') }),
      profile('G3', 'agarnier58@orange.fr', 'Garnier', {
        first_name: 'Anne',
        birth_date: birth('1971-04-12'),
        phone: '+33612345678',
        address: { line1: '40 quai de Valmy', postal_code: '75019' },
      }),
    ];
    await scoring.process(batch, control);
    // G2 shares G1's surname and postcode: a candidate, scored below the threshold. G3 has G1's mobile and birth date.
    expect(flagged(batch)).toEqual([[], [], ['G3~G1:phone+name_birth']]);
    expect(batch.map((e) => e.nearDuplicateCandidatesBelowThreshold)).toEqual([0, 1, 0]);
    expect(batch[2]!.nearDuplicates[0]!.levels).toMatchObject({
      first_name: 'exact',
      last_name: 'exact',
      birth_date: 'exact',
      email: 'else',
      postal_code: 'same_district',
    });
  });

  it("counts each identity once in its names' frequencies, whatever its replays", async () => {
    const slice = state.current();
    const total = async () => Number(await redis.hget(`${namespace}:ntf:${slice}:0`, 'all'));
    const before = await total();
    const rare = bucketOf(`${namespace}:ntf:`, slice, pseudonyms.digest('last_name', 'tiernach', DIGEST_BYTES));
    await scoring.process([profile('T1', 't1@example.ie', 'Tiernach'), profile('T1', 't1@example.ie', 'Tiernach')], control);
    await scoring.process([profile('T1', 't1@example.ie', 'Tiernach'), profile('T2', 't2@example.ie', 'Tiernach')], control);
    expect((await total()) - before).toBe(2);
    expect(await redis.hget(rare.key, rare.field)).toBe('2');
    // The slice is registered until a window past its end, when its buckets are swept.
    const width = Math.ceil(windowMs / 2);
    expect(Number(await redis.zscore(`${namespace}:nd:slices`, String(slice)))).toBe((slice + 1) * width + windowMs);
  });

  it('stops flagging a key once `cap` other identities share it (a shop till, test@example.com)', async () => {
    const surnames = ['Byrne', 'Murphy', 'Kelly', 'Walsh', 'Doyle'];
    const batch = ['B1', 'B2', 'B3', 'B4', 'B5'].map((id, i) => profile(id, 'test@example.com', surnames[i]!));
    const key = pseudonyms.digest('email', 'test@example.com', DIGEST_BYTES);
    await stage.process(batch.slice(0, 4), control);
    expect(await identitiesUnder(key)).toHaveLength(3); // trimmed to the cap as soon as a fourth identity arrives
    await stage.process(batch.slice(4), control);
    // B4 already sees 3 others (the cap), and so does B5: the key is too common to mean anything.
    expect(flagged(batch)).toEqual([[], ['B2~B1:email'], ['B3~B1:email', 'B3~B2:email'], [], []]);
    expect(await identitiesUnder(key)).toEqual(['B3', 'B4', 'B5'].map(digestOf));
  });

  it('leaves no personal value in Redis in plain text: blocking keys and counters are pseudonyms, stored profiles are sealed', async () => {
    const more = {
      first_name: 'Orlaith',
      phone: '+353871234567',
      birth_date: Date.parse('1984-02-29T00:00:00Z') / 86_400_000,
      loyalty_id: 'LOY-77812',
      address: { line1: '9 Ballymun Road', postal_code: 'D09 K2W3' },
    };
    const batch = [profile('P1', 'Orla.Quinn@Example.org', 'Quinnelly', more), profile('P2', 'orla.quinn@example.org', 'Quinnelly', more)];
    await scoring.process(batch, control);
    expect(batch[1]!.nearDuplicates.map((n) => n.score)).toEqual([1]);
    const keys = await redis.keys(`${namespace}:*`);
    expect(keys.length).toBeGreaterThan(4);
    const stored: Buffer[] = keys.map((k) => Buffer.from(k));
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'string') stored.push((await redis.getBuffer(key)) ?? Buffer.alloc(0));
      if (type === 'hash') stored.push(...(await redis.hgetallBuffer(key).then((h) => Object.values(h))));
      if (type === 'zset') stored.push(...(await redis.zrangeBuffer(key, '0', '-1')));
    }
    expect(stored.length).toBeGreaterThan(keys.length);
    // Case-sensitive, and strings no digest can hold by chance (dots, @, spaces); in UTF-8 and in Latin-1.
    const everything = Buffer.concat(stored).toString('latin1');
    const personal = ['orla.quinn@example.org', 'Orla.Quinn', 'example.org', 'Quinnelly', 'quinnelly', 'orlaith', 'Orlaith', 'D09 K2W3', 'D09K2W3', 'K2W3'];
    personal.push('+353871234567', '871234567', '1984-02-29', 'LOY-77812', 'ballymun', 'Ballymun');
    for (const value of personal) expect(everything).not.toContain(value);
  });

  it('forgets an identity: it leaves every blocking key of every record of it in the window, and its ref goes', async () => {
    const batch = [profile('F1', 'fiona@example.net', 'Ferris'), profile('F2', 'fiona@example.net', 'Ferris')];
    await stage.process(batch, control);
    // Later records of F1 under other keys (a new email and surname, then a third email): its ref names them all.
    await stage.process([profile('F1', 'fiona.new@example.net', 'Fahy', { address: { postal_code: 'T12 AB34' } })], control);
    await stage.process([profile('F1', 'f3@example.net', 'Fahy')], control);
    const emails = ['fiona@example.net', 'fiona.new@example.net', 'f3@example.net'].map((email) => pseudonyms.digest('email', email, DIGEST_BYTES));
    expect((await identitiesUnder(emails[0]!)).sort()).toEqual([digestOf('F1'), digestOf('F2')].sort());
    for (const email of emails.slice(1)) expect(await identitiesUnder(email)).toEqual([digestOf('F1')]);
    const erased = await forgetNearDuplicateIdentities(redis, { namespace, windowMs, now: Date.now() }, [identityOf('F1')]);
    expect(erased.changed).toBeGreaterThanOrEqual(4);
    // Tombstones for its changelog entries: the identity in each slice a window and a half back, and the next one.
    const slice = state.current();
    expect(erased.tombstones.map((k) => `${k.subarray(0, DIGEST_BYTES).toString('hex')}@${k.readUInt32BE(DIGEST_BYTES)}`)).toEqual(
      [1, 0, -1, -2, -3].map((d) => `${digestOf('F1')}@${slice + d}`),
    );
    expect(await identitiesUnder(emails[0]!)).toEqual([digestOf('F2')]);
    for (const email of emails.slice(1)) expect(await identitiesUnder(email)).toEqual([]);
    // Nothing of F1 is left: no ref, no entry of any blocking key.
    expect(await state.names(identityOf('F1'))).toBe(false);
    expect(await state.hasRef(identityOf('F2'))).toBe(true);
    // F2, sharing its first email, is still found by a later record.
    const later = [profile('F3', 'fiona@example.net', 'Ferris')];
    await stage.process(later, control);
    expect(flagged(later)).toEqual([['F3~F2:email+name_postal']]);
  });

  it('is rebuilt from its changelog once Redis loses it, without the identities forgotten since', async () => {
    const ns = `${namespace}-rebuilt`;
    const changelog = topicNames(ns).nearDuplicateChangelog;
    const rebuilt = await onChangelog(ns);
    const phone = { phone: '+353861111111' };
    const batch = [
      profile('R1', 'rose@example.net', 'Rowan'),
      profile('R2', 'rosie@example.net', 'Rowan', phone),
      profile('R3', 'r3@example.net', 'Quill', phone),
    ];
    await rebuilt.process(batch, control);
    expect(flagged(batch)).toEqual([[], ['R2~R1:name_postal'], ['R3~R2:phone']]);
    // What the router writes in the batch's transaction; then R2 is forgotten, its entries covered by tombstones.
    const changes = batch.flatMap((e) => e.stateChanges);
    expect(changes.map((c) => c.changelog)).toEqual([changelog, changelog, changelog]);
    await produce(
      kafka,
      changelog,
      changes.map((c) => ({ key: c.key, value: c.value })),
    );
    const erased = await forgetNearDuplicateIdentities(redis, { namespace: ns, windowMs, now: Date.now() }, [identityOf('R2')]);
    await produce(
      kafka,
      changelog,
      erased.tombstones.map((key) => ({ key, value: null })),
    );
    // Redis loses everything of the topology: the next batch waits for the rebuild.
    await redis.del(...(await redis.keys(`${ns}:*`)));
    const later = [profile('R4', 'rose@example.net', 'Rowan'), profile('R5', 'r5@example.net', 'Quill', phone)];
    await rebuilt.process(later, control);
    expect(flagged(later)).toEqual([['R4~R1:email+name_postal'], ['R5~R3:phone+name_postal']]);
    expect(await nearDuplicateState(redis, ns, windowMs).names(identityOf('R2'))).toBe(false);
    await clearRedis(ns);
  });
});
