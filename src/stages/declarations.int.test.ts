// Each stage's declared reads and writes (StageSpec) against what it really touches: the bundled
// topology's stages run over real records (Redis and the key store real, as in `c360 run`), each
// envelope behind a proxy that notes the fields a stage reads, and compared field by field before
// and after the stage to see what it changed. A stage that starts to read or write a field it does
// not declare fails here, so the start-up check in topology/load.ts can rely on the declarations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, product, transaction, variant, webEvent } from '../../test/fixtures/records.js';
import { config } from '../../test/support/kafka.js';
import { emptyChangelog, envelopeOf } from '../../test/support/stages.js';
import { clearRedis, testNamespace } from '../../test/support/topology.js';
import { HEADER } from '../contracts/lineage.js';
import { createLogger } from '../observability/logger.js';
import { type KeyStore, openKeyStore } from '../privacy/key-store.js';
import { pseudonymsFrom } from '../privacy/pseudonyms.js';
import { RecordPrivacy } from '../privacy/records.js';
import { type CompiledEntity, compileEntities } from '../schema/entity.js';
import { WriterSchemas } from '../schema/registry.js';
import { createRedis } from '../storage/redis.js';
import { loadTopology } from '../topology/load.js';
import type { Envelope } from './envelope.js';
import { STAGES } from './index.js';
import type { Stage, StageSpec } from './stage.js';

/** The fields every envelope has from the start (stage.ts): what a stage may read without declaring it. */
const INPUT_FIELDS = new Set(['topic', 'partition', 'message', 'lineage', 'lineageProblem', 'outcome', 'failedStage', 'errors']);

describe('stage declarations', () => {
  const namespace = testNamespace();
  const redis = createRedis(config, createLogger('warn'));
  let keyStore: KeyStore;
  let entities: Map<string, CompiledEntity>;
  let stages: Array<{ spec: StageSpec; stage: Stage }>;
  let stageFields: string[];

  beforeAll(async () => {
    const topology = await loadTopology('customer360', { namespace });
    const entitiesOfSource = new Map(topology.sources.map((s) => [s.name, compileEntities(s)]));
    entities = new Map([...entitiesOfSource.values()].flat().map((e) => [e.id, e]));
    await redis.connect();
    keyStore = openKeyStore(config, namespace);
    const ctx = {
      topology,
      entities,
      entitiesOfSource,
      redis,
      writerSchemas: new WriterSchemas(config),
      pseudonyms: pseudonymsFrom(config, 'test'),
      keyStore,
      cacheEntries: 1_000,
      readChangelog: emptyChangelog,
      now: Date.now,
    };
    stages = topology.stages.map((name) => {
      const spec = STAGES.require(name, 'stages');
      return { spec, stage: spec.create(ctx) };
    });
    stageFields = Object.keys(envelopeOf(entities.get('crm')!, null)).filter((k) => !INPUT_FIELDS.has(k));
  });
  afterAll(async () => {
    redis.disconnect();
    await keyStore?.close();
    await clearRedis(namespace);
  });

  /** A field's state, comparable before and after a stage: entities by id, the rest by their JSON. */
  const stateOf = (v: unknown) =>
    JSON.stringify(v, (_k, x) =>
      x && typeof x === 'object' && 'naturalId' in x && 'id' in x ? `entity:${String(x.id)}` : typeof x === 'bigint' ? String(x) : x,
    );

  /** What a batch's stages see, each after `beforeStage[stage]` has run. */
  async function touched(
    batch: Envelope[],
    beforeStage: Record<string, () => Promise<unknown>> = {},
  ): Promise<Map<string, { read: Set<string>; changed: Set<string> }>> {
    const read = new Set<string>();
    const proxies = batch.map(
      (e) =>
        new Proxy(e, {
          get(target, key, receiver) {
            if (typeof key === 'string') read.add(key);
            return Reflect.get(target, key, receiver);
          },
        }),
    );
    const byStage = new Map<string, { read: Set<string>; changed: Set<string> }>();
    for (const { spec, stage } of stages) {
      await beforeStage[spec.name]?.();
      read.clear();
      const before = batch.map((e) => stageFields.map((f) => stateOf(e[f as keyof Envelope])));
      await stage.process(proxies, { heartbeat: async () => undefined, isRunning: () => true });
      const changed = new Set(stageFields.filter((f, i) => batch.some((e, j) => stateOf(e[f as keyof Envelope]) !== before[j]![i])));
      byStage.set(spec.name, { read: new Set([...read].filter((k) => stageFields.includes(k))), changed });
    }
    return byStage;
  }

  const json = (v: unknown) => JSON.stringify(v);
  /** Per source, records that make every stage write every field it declares, each with its headers. */
  const batches = (): Record<string, Array<[string, Record<string, string>?]>> => ({
    crm: [
      [json(crmProfile)],
      // Its exact copy (a duplicate), a near duplicate under another id, and a family member at the same address (scored below the threshold).
      [json(crmProfile)],
      [json(variant(crmProfile, { customer_id: 'C-1002', email: 'ann.lee.promo@example.com' }))],
      [
        json(
          variant(crmProfile, {
            customer_id: 'C-1004',
            email: 'tom.lee@example.org',
            first_name: 'Tom',
            phone: '087 765 4321',
            birth_date: '1961-09-30',
            loyalty_id: 'L-99',
          }),
        ),
      ],
      ['{"customer_id": '],
      [json(variant(crmProfile, { customer_id: 'C-2001', email: 'forgotten@example.com', first_name: 'Fay' }))],
    ],
    // An opted-out advertising id (a warning), and an event id sent again with other content (an id collision).
    web: [
      [json(webEvent)],
      [json(variant(webEvent, { 'device.id_type': 'IDFA', 'device.device_id': '00000000-0000-0000-0000-000000000000', event_id: 'ev-2' }))],
      [json(variant(webEvent, { page_url: 'https://shop.example/p/2' }))],
    ],
    // The source's second entity, told apart by its header.
    commerce: [
      [json(transaction)],
      [json(product), { [HEADER.entity]: 'Product' }],
      [json(variant(transaction, { transaction_id: 'T-9002', total_amount: 'lots' }))],
    ],
  });

  it('each stage reads and changes only the fields it declares, and every declared write happens', async () => {
    const seenWrites = new Map<string, Set<string>>();
    for (const [source, values] of Object.entries(batches())) {
      const batch = values.map(([v, headers], i) => envelopeOf(entities.get(source)!, v, headers, `k${i}`));
      // A person forgotten while their record is between the suppress and encrypt stages: what near-duplicates remembered of them goes.
      const forget = async () => keyStore.forget([new RecordPrivacy(pseudonymsFrom(config, 'test')).identifier('customer_id', 'C-2001')!]);
      for (const [name, { read, changed }] of await touched(batch, source === 'crm' ? { encrypt: forget } : {})) {
        const spec = STAGES.require(name, 'stages');
        const declared = new Set([...spec.reads, ...spec.writes]);
        expect({ stage: name, source, undeclaredReads: [...read].filter((f) => !declared.has(f as never)) }).toEqual({
          stage: name,
          source,
          undeclaredReads: [],
        });
        expect({ stage: name, source, undeclaredWrites: [...changed].filter((f) => !spec.writes.includes(f as never)) }).toEqual({
          stage: name,
          source,
          undeclaredWrites: [],
        });
        const seen = seenWrites.get(name) ?? new Set<string>();
        for (const f of changed) seen.add(f);
        seenWrites.set(name, seen);
      }
    }
    // A declaration that no record ever needs is one the check would enforce for nothing.
    expect(Object.fromEntries([...seenWrites].map(([name, seen]) => [name, [...seen].sort()]))).toEqual(
      Object.fromEntries(stages.map(({ spec }) => [spec.name, [...spec.writes].sort()])),
    );
  });
});
