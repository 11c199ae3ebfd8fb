import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, transaction, variant, webEvent } from '../../test/fixtures/records.js';
import { collect, config, testKafka } from '../../test/support/kafka.js';
import { clearRedis, produce, type RunningTopology, readable, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { RECORD_ERROR_CODES } from '../contracts/errors.js';
import { frame } from '../contracts/framing.js';
import type { LedgerEntry } from '../contracts/ledger.js';
import { HEADER } from '../contracts/lineage.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { EventProfiles } from '../observability/record-profile.js';
import { loadSchema, parseType } from '../schema/avro.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';

const kafka = testKafka();
const registry = createSchemaRegistry(config);
const header = (m: KafkaMessage, name: string) => m.headers?.[name]?.toString();
const future = new Date(Date.now() + 86_400_000).toISOString();

interface Case {
  code: keyof typeof RECORD_ERROR_CODES;
  source: 'crm' | 'web' | 'commerce';
  field: string | null;
  value: () => Promise<Buffer | string> | Buffer | string;
  headers?: Record<string, string>;
}

const HOSTILE_INPUT_CODES = ['decode.invalid_utf8', 'decode.too_deep', 'lineage.invalid', 'schema.decimal_out_of_range'];
const DECLARATIVE_CODES = [
  'quality.required_missing',
  'quality.pattern_mismatch',
  'quality.not_allowed',
  'quality.out_of_range',
  'quality.length_out_of_range',
  'quality.fields_disagree',
  'quality.not_in_reference',
];

describe('the ingestion topology, end to end on the real stack', () => {
  let t: RunningTopology;
  let ingestSchemaId: number;
  let incompatibleId: number;
  let evolvedId: number;
  const dead = new Map<
    string,
    { code: string; field: string | null; stage: string; source: string; lineage: { ingest_id: string }; origin_topic: string; original_value: Buffer }
  >();
  const raw: Record<string, KafkaMessage[]> = {};
  let nearDups: {
    kind: string;
    keys: string[];
    record: { natural_id: string };
    matched: { natural_id: string };
    score: number | null;
    probability: number | null;
    levels: Record<string, string> | null;
  }[] = [];
  let ledger: Awaited<ReturnType<typeof waitForLedger>>;

  const cases: Case[] = [
    { code: 'decode.malformed', source: 'crm', field: null, value: () => 'plain text, not a record' },
    { code: 'decode.invalid_json', source: 'crm', field: null, value: () => '{"customer_id": "C-x",' },
    { code: 'decode.unknown_schema_id', source: 'crm', field: null, value: () => frame(2_000_000_000, Buffer.from([2, 0x41])) },
    {
      code: 'decode.truncated',
      source: 'crm',
      field: null,
      value: () => frame(ingestSchemaId, loadSchema('CustomerProfile').type.toBuffer(variantAvro()).subarray(0, 12)),
    },
    { code: 'decode.incompatible_schema', source: 'crm', field: null, value: () => frame(incompatibleId, Buffer.from([2])) },
    {
      code: 'schema.missing_required',
      source: 'crm',
      field: 'email',
      value: () => JSON.stringify(variant(crmProfile, { customer_id: 'C-mr', email: undefined })),
    },
    {
      code: 'schema.wrong_type',
      source: 'crm',
      field: 'loyalty_points',
      value: () => JSON.stringify(variant(crmProfile, { customer_id: 'C-wt', loyalty_points: 'many' })),
    },
    {
      code: 'schema.enum_not_allowed',
      source: 'crm',
      field: 'loyalty_tier',
      value: () => JSON.stringify(variant(crmProfile, { customer_id: 'C-en', loyalty_tier: 'DIAMOND' })),
    },
    {
      code: 'size.too_large',
      source: 'crm',
      field: null,
      value: () => JSON.stringify(variant(crmProfile, { customer_id: 'C-big', first_name: 'A'.repeat(5000) })),
    },
    {
      code: 'quality.email_invalid',
      source: 'crm',
      field: 'email',
      value: () => JSON.stringify(variant(crmProfile, { customer_id: 'C-em', email: 'ann..lee@example.com' })),
    },
    { code: 'quality.phone_invalid', source: 'crm', field: 'phone', value: () => JSON.stringify(variant(crmProfile, { customer_id: 'C-ph', phone: '12' })) },
    {
      code: 'quality.country_invalid',
      source: 'crm',
      field: 'address.country',
      value: () =>
        JSON.stringify(variant(crmProfile, { customer_id: 'C-co', 'address.country': 'XX', 'address.region': null, phone: null, 'address.postal_code': null })),
    },
    {
      code: 'quality.region_invalid',
      source: 'crm',
      field: 'address.region',
      value: () => JSON.stringify(variant(crmProfile, { customer_id: 'C-rg', 'address.region': 'US-CA' })),
    },
    {
      code: 'quality.postal_code_invalid',
      source: 'crm',
      field: 'address.postal_code',
      value: () =>
        JSON.stringify(
          variant(crmProfile, { customer_id: 'C-pc', 'address.country': 'DE', 'address.region': 'DE-BE', phone: null, 'address.postal_code': '1234' }),
        ),
    },
    {
      code: 'quality.timestamp_before_epoch',
      source: 'web',
      field: 'occurred_at',
      value: () => JSON.stringify(variant(webEvent, { event_id: 'ev-old', occurred_at: '1969-12-31T23:59:59Z' })),
    },
    {
      code: 'quality.timestamp_in_future',
      source: 'web',
      field: 'occurred_at',
      value: () => JSON.stringify(variant(webEvent, { event_id: 'ev-fut', occurred_at: future })),
    },
    {
      code: 'quality.latitude_out_of_range',
      source: 'web',
      field: 'geo.latitude',
      value: () => JSON.stringify(variant(webEvent, { event_id: 'ev-lat', 'geo.latitude': 95 })),
    },
    {
      code: 'quality.longitude_out_of_range',
      source: 'web',
      field: 'geo.longitude',
      value: () => JSON.stringify(variant(webEvent, { event_id: 'ev-lon', 'geo.longitude': -190 })),
    },
    {
      code: 'quality.device_id_invalid',
      source: 'web',
      field: 'device.device_id',
      value: () => JSON.stringify(variant(webEvent, { event_id: 'ev-imei', 'device.device_id': '490154203237519' })),
    },
    {
      code: 'decode.unknown_entity',
      source: 'commerce',
      field: null,
      value: () => JSON.stringify({ product_id: 'P-x' }),
      headers: { [HEADER.entity]: 'Coupon' },
    },
    {
      code: 'quality.currency_invalid',
      source: 'commerce',
      field: 'currency',
      value: () => JSON.stringify(variant(transaction, { transaction_id: 'T-cur', currency: 'XYZ' })),
    },
    {
      code: 'quality.amount_negative',
      source: 'commerce',
      field: 'line_items[1].unit_price',
      value: () =>
        JSON.stringify(
          variant(transaction, { transaction_id: 'T-neg', line_items: [transaction.line_items[0], { ...transaction.line_items[1], unit_price: '-20.00' }] }),
        ),
    },
  ];

  function variantAvro() {
    return {
      ...variant(crmProfile, { customer_id: 'C-avro', email: 'bob@example.org', first_name: 'Bob', last_name: 'Byrne', phone: '+353 87 765 4321' }),
      birth_date: 7395,
      updated_at: Date.parse('2026-11-02T00:00:00Z'),
    };
  }

  beforeAll(async () => {
    const ns = testNamespace();
    t = await startTopology(ns, (topology) => {
      topology.maxRecordBytes = 4000;
    });
    ingestSchemaId = await registry.getLatestSchemaId(`${t.names.ingest('crm')}-value`);
    const crmSchema = loadSchema('CustomerProfile').schema as { fields: { name: string }[] };
    incompatibleId = await registerAvro(registry, `${ns}.incompatible-value`, {
      type: 'record',
      name: 'CustomerProfile',
      namespace: 'io.c360.crm',
      fields: [{ name: 'customer_id', type: 'int' }],
    });
    // A newer producer's schema with an extra field: resolves against the reader schema.
    const evolved = { ...crmSchema, fields: [...crmSchema.fields, { name: 'nickname', type: ['null', 'string'], default: null }] };
    evolvedId = await registerAvro(registry, `${t.names.ingest('crm')}-value`, evolved);

    const good: Record<'crm' | 'web' | 'commerce', (string | Buffer)[]> = {
      crm: [
        JSON.stringify(crmProfile),
        // the same profile again, keys in another order and the email domain in other case: an exact duplicate
        JSON.stringify(Object.fromEntries(Object.entries(variant(crmProfile, { email: 'Ann.Lee+promo@example.com' })).reverse())),
        // another customer with the same canonical email and a similar name: a near-duplicate
        JSON.stringify(
          variant(crmProfile, { customer_id: 'C-2002', email: 'ann.lee@example.com', first_name: 'Anne', phone: null, 'address.postal_code': 'D04 A1B2' }),
        ),
        frame(ingestSchemaId, loadSchema('CustomerProfile').type.toBuffer(variantAvro())),
        frame(
          evolvedId,
          parseType(evolved).toBuffer({
            ...variantAvro(),
            customer_id: 'C-evolved',
            email: 'eve@example.net',
            phone: null,
            last_name: 'Evans',
            nickname: 'Evie',
          }),
        ),
      ],
      web: [
        JSON.stringify(webEvent),
        JSON.stringify(webEvent), // same event id, same content: duplicate
        JSON.stringify(variant(webEvent, { event_type: 'CLICK' })), // same event id, other content: id collision
        JSON.stringify(variant(webEvent, { event_id: 'ev-optout', 'device.id_type': 'IDFA', 'device.device_id': '00000000-0000-0000-0000-000000000000' })),
      ],
      commerce: [JSON.stringify(transaction)],
    };
    // The shop's catalogue rides on the commerce source: JSON says so in a header, Avro by its writer schema.
    const product = {
      product_id: 'P-1',
      sku: 'SKU-1',
      name: 'Scarf',
      category: 'accessories',
      brand: null,
      price: '19.90',
      currency: 'EUR',
      active: true,
      updated_at: Date.parse('2026-11-01T00:00:00Z'),
    };
    const productAvroId = await registry.getLatestSchemaId(`${t.names.ingest('commerce')}-io.c360.commerce.Product`);
    const extra: Record<string, { value: string | Buffer; headers?: Record<string, string> }[]> = {
      crm: [],
      web: [],
      commerce: [
        { value: JSON.stringify({ ...product, updated_at: '2026-11-01T00:00:00Z' }), headers: { [HEADER.entity]: 'Product' } },
        { value: frame(productAvroId, loadSchema('Product').type.toBuffer({ ...product, product_id: 'P-2' })) },
      ],
    };
    // CRM first, so the commerce record's near-duplicate match below has a known order.
    let produced = 0;
    for (const source of ['crm', 'web', 'commerce'] as const) {
      const values = [
        ...good[source].map((value) => ({ value, headers: undefined })),
        ...extra[source]!,
        ...(await Promise.all(cases.filter((c) => c.source === source).map(async (c) => ({ value: await c.value(), headers: c.headers })))),
      ];
      // Web events are keyed by event id, as producers do, so the duplicate and the collision reach the same partition in order.
      const key = (value: string | Buffer) => (source === 'web' ? (JSON.parse(value.toString()) as { event_id: string }).event_id : null);
      await produce(
        kafka,
        t.names.ingest(source),
        values.map(({ value, headers }) => ({ key: key(value), value, ...(headers ? { headers } : {}) })),
      );
      produced += values.length;
      if (source === 'crm') await waitForLedger(kafka, t.names, (l) => l.total.in === produced);
    }
    ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === produced);

    for (const m of await collect(kafka, t.names.deadLetter, (s) => s.length === cases.length)) {
      const d = (await registry.decode(m.value!)) as {
        errors: { code: string; field: string | null }[];
        stage: string;
        source: string;
        lineage: { ingest_id: string };
        origin_topic: string;
        original_value: Buffer;
      };
      dead.set(d.errors[0]!.code, { ...d, code: d.errors[0]!.code, field: d.errors[0]!.field });
    }
    raw.crm = await collect(kafka, t.names.raw('crm'), (s) => s.length === 4);
    raw.web = await collect(kafka, t.names.raw('web'), (s) => s.length === 3);
    raw.commerce = await collect(kafka, t.names.raw('commerce'), (s) => s.length === 3);
    nearDups = await Promise.all((await collect(kafka, t.names.nearDuplicates, (s) => s.length === 4)).map((m) => registry.decode(m.value!)));
  });

  afterAll(async () => {
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
  });

  it('balances the ledger: in = raw + exact duplicates + dead-letter, per source', () => {
    expect(
      Object.fromEntries([...ledger.bySource].map(([s, c]) => [s, { in: c.in, raw: c.raw, duplicates: c.duplicates, dead_letter: c.dead_letter }])),
    ).toEqual({
      crm: { in: 19, raw: 4, duplicates: 1, dead_letter: 14 },
      web: { in: 9, raw: 3, duplicates: 1, dead_letter: 5 },
      commerce: { in: 6, raw: 3, duplicates: 0, dead_letter: 3 },
    });
    expect(ledger.total.near_duplicates).toBe(4);
    expect(ledger.bySource.get('web')!.errors['quality.device_id_opt_out']).toBe(1);
  });

  it('profiles every record that decoded in the ledger, by event, with names and counts only', async () => {
    const entries: LedgerEntry[] = [];
    await readToEnd(kafka, t.names.ledger, (m) => entries.push(JSON.parse(m.value!.toString()) as LedgerEntry));
    const profiles = new EventProfiles();
    const bySource = (source: string) => {
      const p = new EventProfiles();
      for (const e of entries) if (e.source === source && e.events) p.add(e.events);
      return p.toJSON();
    };
    for (const source of ['crm', 'web', 'commerce']) {
      const undecoded = [...dead.values()].filter((d) => d.source === source && (d.stage === 'decode' || d.stage === 'size')).length;
      const events = bySource(source);
      expect(
        Object.values(events).reduce((n, p) => n + p.records, 0),
        source,
      ).toBe(ledger.bySource.get(source)!.in - undecoded);
      profiles.add(events);
    }
    expect(Object.keys(profiles.toJSON()).sort()).toEqual(['BehavioralEvent', 'CustomerProfile', 'Product', 'Transaction']);
    expect(JSON.stringify(entries)).not.toMatch(/@|C-1001|Dublin/);
  });

  // Produced elsewhere: the opt-out warning by src/stages/stages.test.ts, timestamp_invalid by the rule's own test
  // (decoding makes every timestamp field a number), mapping.* by file ingest (src/extraction/ingest.int.test.ts),
  // stage.internal_error by src/topology/poison.int.test.ts, the codes of hostile input by test/hostile/kafka.int.test.ts,
  // and the declarative rules' and tracking plans' codes, which the bundled topology does not declare, by
  // src/stages/stages.test.ts and src/stages/quality/rules/declarative.test.ts on topologies that do.
  it.each(
    Object.keys(RECORD_ERROR_CODES).filter(
      (c) =>
        c !== 'quality.device_id_opt_out' &&
        c !== 'quality.timestamp_invalid' &&
        c !== 'stage.internal_error' &&
        !c.startsWith('mapping.') &&
        !c.startsWith('plan.') &&
        !DECLARATIVE_CODES.includes(c) &&
        !HOSTILE_INPUT_CODES.includes(c),
    ),
  )('dead-letters %s with its field and lineage', (code) => {
    const c = cases.find((x) => x.code === code)!;
    const d = dead.get(code);
    expect(d, `no dead-letter record with ${code}`).toBeDefined();
    expect(d!.field).toBe(c.field);
    expect(d!.origin_topic).toBe(t.names.ingest(c.source));
    expect(d!.lineage.ingest_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(d!.original_value.length).toBeGreaterThan(0);
  });

  it('lands valid records in raw, Avro-framed with the registered raw schema, keyed by natural id, with lineage', async () => {
    const rawId = await registry.getLatestSchemaId(`${t.names.raw('crm')}-value`);
    const keys = raw.crm!.map((m) => m.key?.toString()).sort();
    expect(keys).toEqual(['C-1001', 'C-2002', 'C-avro', 'C-evolved']);
    const first = raw.crm!.find((m) => m.key?.toString() === 'C-1001')!;
    expect(first.value!.readInt32BE(1)).toBe(rawId);
    const stored = (await registry.decode(first.value!)) as Record<string, unknown>;
    // Personal fields are ciphertext in raw (docs/privacy.md); whoever holds the keys reads them back.
    expect(stored.email).toMatch(/^c360e2\./);
    expect(stored.loyalty_tier).toBe('GOLD');
    const profile = await readable(t.topology.namespace, 'crm', 'CustomerProfile', stored);
    expect(profile).toMatchObject({
      email: 'Ann.Lee+promo@example.com',
      phone: '+353861234567',
      loyalty_tier: 'GOLD',
      birth_date: 7395,
      updated_at: Date.parse('2026-11-01T10:00:00Z'),
    });
    expect(header(first, HEADER.source)).toBe('crm');
    expect(header(first, HEADER.sourceKind)).toBe('stream');
    expect(JSON.parse(header(first, HEADER.origin)!)).toMatchObject({
      topic: t.names.ingest('crm'),
      partition: expect.any(Number),
      offset: expect.any(Number),
    });
    // The evolved writer's extra field is gone; the rest resolved.
    const evolved = await readable(
      t.topology.namespace,
      'crm',
      'CustomerProfile',
      (await registry.decode(raw.crm!.find((m) => m.key?.toString() === 'C-evolved')!.value!)) as Record<string, unknown>,
    );
    expect(evolved).toMatchObject({ customer_id: 'C-evolved', last_name: 'Evans' });
    expect(evolved).not.toHaveProperty('nickname');
  });

  it('keeps decimals exact and nested line items intact', () => {
    const tx = loadSchema('Transaction').type.fromBuffer(raw.commerce!.find((m) => m.key?.toString() === 'T-9001')!.value!.subarray(5)) as {
      total_amount: string;
      line_items: { unit_price: string }[];
    };
    expect(tx.total_amount).toBe('59.90');
    expect(tx.line_items.map((l) => l.unit_price)).toEqual(['19.90', '20.00']);
  });

  it("tells a source's entities apart: JSON by its c360.entity header, Avro by its writer schema", async () => {
    const productRawId = await registry.getLatestSchemaId(`${t.names.raw('commerce')}-io.c360.commerce.Product`);
    const products = raw.commerce!.filter((m) => header(m, HEADER.entity) === 'Product');
    expect(products.map((m) => m.key!.toString()).sort()).toEqual(['P-1', 'P-2']);
    for (const m of products) {
      expect(m.value!.readInt32BE(1)).toBe(productRawId);
      expect(loadSchema('Product').type.fromBuffer(m.value!.subarray(5))).toMatchObject({
        sku: 'SKU-1',
        price: '19.90',
        currency: 'EUR',
        updated_at: Date.parse('2026-11-01T00:00:00Z'),
      });
    }
    expect(header(raw.commerce!.find((m) => m.key?.toString() === 'T-9001')!, HEADER.entity)).toBe('Transaction');
  });

  it('passes an opted-out advertising id with a warning flag and the id dropped', async () => {
    const m = raw.web!.find((x) => x.key?.toString() === 'ev-optout')!;
    expect(header(m, HEADER.qualityFlags)).toBe('quality.device_id_opt_out');
    const ev = (await readable(t.topology.namespace, 'web', 'BehavioralEvent', (await registry.decode(m.value!)) as Record<string, unknown>)) as {
      device: { device_id: string | null };
    };
    expect(ev.device.device_id).toBeNull();
  });

  it('flags near-duplicates within and across sources and an event id collision, and still lands every record in raw', () => {
    const crmPairs = nearDups.filter((n) => n.kind === 'NEAR_DUPLICATE' && n.record.natural_id.startsWith('C-'));
    const pairOf = (n: (typeof nearDups)[number]) => [n.record.natural_id, n.matched.natural_id].sort().join('~');
    // Which CRM record is seen first depends on the input partitions, so each pair is checked either way round.
    expect(crmPairs.map(pairOf).sort()).toEqual(['C-1001~C-2002', 'C-avro~C-evolved']);
    const crmPair = crmPairs.find((n) => pairOf(n) === 'C-1001~C-2002')!;
    expect(crmPair.keys).toEqual(['email', 'name_birth']);
    expect(crmPair.score).toBeGreaterThan(0.9);
    expect(crmPair.probability).toBeGreaterThanOrEqual(0.5);
    // Bob Byrne and Bob Evans: same first name, birth date, address and loyalty id, found by first-name sound + birth date.
    expect(crmPairs.find((n) => pairOf(n) === 'C-avro~C-evolved')).toMatchObject({
      keys: ['name_birth'],
      levels: { first_name: 'exact', last_name: 'else', birth_date: 'exact', loyalty_id: 'exact', address: 'exact', email: 'else' },
    });
    // The order of C-1001 paid with an email C-2002 also has: a link for identity resolution, without a name to score.
    expect(nearDups.find((n) => n.record.natural_id === 'T-9001')).toMatchObject({
      kind: 'NEAR_DUPLICATE',
      keys: ['email'],
      matched: { natural_id: 'C-2002' },
      score: null,
    });
    expect(nearDups.find((n) => n.kind === 'ID_COLLISION')).toMatchObject({
      keys: ['event_id'],
      record: { natural_id: 'ev-1' },
      matched: { natural_id: 'ev-1' },
    });
    const flagged = raw.crm!.find((m) => m.key?.toString() === crmPair.record.natural_id)!;
    expect(header(flagged, HEADER.nearDuplicate)).toBe('true');
    expect(raw.web!.filter((m) => m.key?.toString() === 'ev-1')).toHaveLength(2);
  });
});
