// Hostile input straight to the ingest topics, as any producer may send it. Each class is one
// record on partition 0 followed by a valid canary on the same partition: the class's exact outcome
// is asserted (its dead letter's code, or where it landed), and every canary must land in raw, so
// no class stalls its partition. A dead-letter topic with a small max.message.bytes proves that a
// dead letter always fits: the oversized original moves out of line and is read back by its sha256.
import { hash } from 'node:crypto';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame } from '../../src/contracts/framing.js';
import { HEADER } from '../../src/contracts/lineage.js';
import { topicNames } from '../../src/contracts/topic-names.js';
import { groupLag } from '../../src/kafka/lag.js';
import { topicMaxMessageBytes } from '../../src/kafka/topic-admin.js';
import { loadSchema, parseType } from '../../src/schema/avro.js';
import { compilePrimaryEntity } from '../../src/schema/entity.js';
import { createSchemaRegistry, registerAvro, WriterSchemas } from '../../src/schema/registry.js';
import { openObjectStore } from '../../src/storage/backends.js';
import { loadTopology } from '../../src/topology/load.js';
import { createTopologyTopics } from '../../src/topology/setup.js';
import { crmProfile, transaction, variant, webEvent } from '../fixtures/records.js';
import { collect, config, eventually, recentLogs, testKafka } from '../support/kafka.js';
import { type RunningTopology, readable, startTopology, testNamespace, waitForLedger } from '../support/topology.js';

const kafka = testKafka();
type Source = 'crm' | 'web' | 'commerce';
type Outcome = { code: string } | 'raw';
interface HostileClass {
  name: string;
  source: Source;
  /** The hostile record; `id` is the class's unique id, to use as natural id where it has one. */
  message: (id: string) => Message | Promise<Message>;
  outcome: Outcome;
}

const MAX_RECORD_BYTES = 64 * 1024;
const DEAD_LETTER_MAX_BYTES = 48 * 1024;

const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const json = (value: unknown, headers: Record<string, string> = {}): Message => ({ key: 'k', value: JSON.stringify(value), headers });
const web = (id: string, changes: Record<string, unknown> = {}) => variant(webEvent, { event_id: id, ...changes });
const crm = (id: string, changes: Record<string, unknown> = {}) => variant(crmProfile, { customer_id: id, ...changes });
const order = (id: string, changes: Record<string, unknown> = {}) => variant(transaction, { transaction_id: id, ...changes });
const canaryOf: Record<Source, (id: string) => unknown> = { crm: (id) => crm(id), web: (id) => web(id), commerce: (id) => order(id) };

describe('hostile input straight to Kafka', () => {
  const namespace = testNamespace();
  const names = topicNames(namespace);
  let t: RunningTopology;
  let ids: Record<Source, number>;
  const entities = async () => {
    const topology = await loadTopology('customer360', { namespace });
    return Object.fromEntries((['crm', 'web', 'commerce'] as const).map((s) => [s, compilePrimaryEntity(topology.sources.find((x) => x.name === s)!)]));
  };
  /** A record in its Avro form, Confluent-framed with the source's registered ingest schema. */
  let avro: (source: Source, value: unknown) => Buffer;
  let incompatibleId: number;

  beforeAll(async () => {
    const topology = await loadTopology('customer360', { namespace });
    topology.maxRecordBytes = MAX_RECORD_BYTES;
    await createTopologyTopics(kafka, topology, config.topics);
    const admin = kafka.admin();
    await admin.connect();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: names.deadLetter, configEntries: [{ name: 'max.message.bytes', value: String(DEAD_LETTER_MAX_BYTES) }] }],
    });
    // The broker applies a config change a moment after AlterConfigs answers: the topology reads the limit at start,
    // and would read the old one (seen in CI: the first oversized dead letter was then refused by the broker).
    await eventually(
      () => topicMaxMessageBytes(admin, names.deadLetter),
      (limit) => limit === DEAD_LETTER_MAX_BYTES,
      30_000,
    );
    await admin.disconnect();
    const registry = createSchemaRegistry(config);
    const e = await entities();
    ids = {
      crm: await registerAvro(registry, `${names.ingest('crm')}-value`, e.crm!.schema),
      web: await registerAvro(registry, `${names.ingest('web')}-value`, e.web!.schema),
      commerce: await registerAvro(registry, `${names.ingest('commerce')}-value`, e.commerce!.schema),
    };
    avro = (source, value) => frame(ids[source], e[source]!.type.toBuffer(e[source]!.coerceJson(value).value));
    const incompatible = structuredClone(e.crm!.schema) as { fields: Array<{ name: string; type: unknown }> };
    incompatible.fields.find((f) => f.name === 'customer_id')!.type = 'boolean';
    incompatibleId = await registerAvro(registry, `${namespace}.incompatible-value`, incompatible);
    t = await startTopology(namespace, (x) => (x.maxRecordBytes = MAX_RECORD_BYTES));
  });
  afterAll(async () => {
    await t?.stop();
  });

  const classes: HostileClass[] = [
    { name: 'an empty value', source: 'web', message: () => ({ key: 'k', value: Buffer.alloc(0) }), outcome: { code: 'decode.malformed' } },
    { name: 'a tombstone (null value)', source: 'web', message: () => ({ key: 'k', value: null }), outcome: { code: 'decode.malformed' } },
    { name: 'plain text', source: 'web', message: () => ({ key: 'k', value: 'hello' }), outcome: { code: 'decode.malformed' } },
    { name: 'a JSON array', source: 'web', message: (id) => ({ key: 'k', value: JSON.stringify([web(id)]) }), outcome: { code: 'decode.malformed' } },
    { name: 'a JSON number', source: 'web', message: () => ({ key: 'k', value: '42' }), outcome: { code: 'decode.malformed' } },
    { name: 'binary noise', source: 'web', message: () => ({ key: 'k', value: Buffer.from([0xff, 0xfe, 0x01, 0x80]) }), outcome: { code: 'decode.malformed' } },
    { name: 'JSON cut short', source: 'web', message: () => ({ key: 'k', value: '{"event_id": "x", ' }), outcome: { code: 'decode.invalid_json' } },
    { name: 'JSON with a trailing comma', source: 'web', message: () => ({ key: 'k', value: '{"event_id": "x",}' }), outcome: { code: 'decode.invalid_json' } },
    {
      name: 'JSON that is not UTF-8',
      source: 'web',
      message: (id) => ({ key: 'k', value: Buffer.concat([Buffer.from(JSON.stringify(web(id)).slice(0, -1)), Buffer.from(',"x":"\xe9"}', 'latin1')]) }),
      outcome: { code: 'decode.invalid_utf8' },
    },
    {
      name: 'a JSON string with a lone surrogate',
      source: 'web',
      message: (id) => ({ key: 'k', value: JSON.stringify(web(id)).replace('"s-1"', '"s-\\ud800"') }),
      outcome: { code: 'decode.invalid_utf8' },
    },
    { name: 'JSON nested 10,000 levels', source: 'web', message: () => ({ key: 'k', value: `{"a":${nested(10_000)}}` }), outcome: { code: 'decode.too_deep' } },
    { name: 'JSON nested 65 levels', source: 'web', message: () => ({ key: 'k', value: `{"a":${nested(64)}}` }), outcome: { code: 'decode.too_deep' } },
    {
      name: 'a record over maxRecordBytes whose dead letter is over the dead-letter topic limit',
      source: 'web',
      message: (id) => json(web(id, { page_url: `https://x/${'p'.repeat(MAX_RECORD_BYTES)}` })),
      outcome: { code: 'size.too_large' },
    },
    {
      name: 'a frame shorter than its 5-byte header',
      source: 'web',
      message: () => ({ key: 'k', value: Buffer.from([0, 0, 0]) }),
      outcome: { code: 'decode.truncated' },
    },
    {
      name: 'an Avro frame naming no registered schema',
      source: 'web',
      message: (id) => ({ key: 'k', value: frame(987_654_321, Buffer.from(id)) }),
      outcome: { code: 'decode.unknown_schema_id' },
    },
    {
      name: 'an Avro body cut short',
      source: 'web',
      message: (id) => ({ key: 'k', value: avro('web', web(id)).subarray(0, -20) }),
      outcome: { code: 'decode.truncated' },
    },
    {
      name: 'an Avro body with bytes after the record',
      source: 'web',
      message: (id) => ({ key: 'k', value: Buffer.concat([avro('web', web(id)), Buffer.from([0, 0])]) }),
      outcome: { code: 'decode.truncated' },
    },
    {
      name: 'an Avro string that is not UTF-8',
      source: 'crm',
      message: (id) => {
        const buf = avro('crm', crm(id, { first_name: 'Zoë' }));
        buf[buf.indexOf(Buffer.from('Zoë')) + 2] = 0xff;
        return { key: 'k', value: buf };
      },
      outcome: { code: 'decode.invalid_utf8' },
    },
    {
      name: 'an Avro int holding more than 32 bits',
      source: 'crm',
      message: async (id) => {
        const e = (await entities()).crm!;
        const wide = structuredClone(e.schema) as { fields: Array<{ name: string; type: unknown }> };
        wide.fields.find((f) => f.name === 'loyalty_points')!.type = ['null', 'long'];
        const value = { ...(e.coerceJson(crm(id)).value as object), loyalty_points: 2 ** 40 };
        return { key: 'k', value: frame(ids.crm, parseType(wide).toBuffer(value)) };
      },
      outcome: { code: 'schema.wrong_type' },
    },
    {
      name: 'an Avro writer schema that does not resolve',
      source: 'crm',
      message: () => ({ key: 'k', value: frame(incompatibleId, Buffer.from([1])) }),
      outcome: { code: 'decode.incompatible_schema' },
    },
    {
      name: 'an Avro decimal wider than the contract (a poison pill)',
      source: 'commerce',
      message: async (id) => {
        const writer = structuredClone(loadSchema('Transaction').schema) as { fields: Array<{ name: string; type: unknown }> };
        writer.fields.find((f) => f.name === 'total_amount')!.type = { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 2 };
        const writerId = await registerAvro(createSchemaRegistry(config), `${namespace}.wide-orders`, writer);
        const body = parseType(writer).toBuffer({
          ...order(id),
          occurred_at: Date.parse(transaction.occurred_at),
          line_items: [],
          total_amount: '100000000000000000000.00',
        });
        return { key: 'k', value: frame(writerId, body) };
      },
      outcome: { code: 'stage.internal_error' },
    },
    {
      name: 'an Avro map key named __proto__',
      source: 'web',
      message: (id) => ({ key: 'k', value: avro('web', web(id, { properties: JSON.parse('{"__proto__":"kept","constructor":"kept too"}') })) }),
      outcome: 'raw',
    },
    {
      name: 'a JSON map key named __proto__',
      source: 'web',
      message: (id) => ({ key: 'k', value: JSON.stringify(web(id)).replace('"campaign"', '"__proto__"') }),
      outcome: 'raw',
    },
    {
      name: 'a JSON top-level key named __proto__',
      source: 'web',
      message: (id) => ({ key: 'k', value: JSON.stringify(web(id)).replace('{', '{"__proto__":{"x":1},') }),
      outcome: 'raw',
    },
    { name: 'a real U+FFFD in a string', source: 'web', message: (id) => json(web(id, { session_id: 'a\uFFFDb' })), outcome: 'raw' },
    { name: 'an escaped NUL in a string', source: 'web', message: (id) => json(web(id, { session_id: 'a\u0000b' })), outcome: 'raw' },
    {
      name: 'a missing required field',
      source: 'web',
      message: (id) => json(web(id, { event_type: undefined })),
      outcome: { code: 'schema.missing_required' },
    },
    { name: 'a null required field', source: 'web', message: (id) => json(web(id, { event_type: null })), outcome: { code: 'schema.missing_required' } },
    { name: 'an empty natural id', source: 'web', message: () => json(web('')), outcome: { code: 'schema.missing_required' } },
    { name: 'a blank natural id', source: 'web', message: () => json(web('   ')), outcome: { code: 'schema.missing_required' } },
    {
      name: 'an empty natural id in Avro',
      source: 'crm',
      message: () => ({ key: 'k', value: avro('crm', crm('')) }),
      outcome: { code: 'schema.missing_required' },
    },
    { name: 'a number where a string belongs', source: 'web', message: (id) => json(web(id, { session_id: 7 })), outcome: { code: 'schema.wrong_type' } },
    {
      name: 'an object where a string belongs',
      source: 'web',
      message: (id) => json(web(id, { session_id: { a: 1 } })),
      outcome: { code: 'schema.wrong_type' },
    },
    {
      name: 'a symbol the enum lacks',
      source: 'web',
      message: (id) => json(web(id, { event_type: 'TELEPORT' })),
      outcome: { code: 'schema.enum_not_allowed' },
    },
    {
      name: 'an impossible timestamp (30 February)',
      source: 'web',
      message: (id) => json(web(id, { occurred_at: '2026-02-30T10:00:00Z' })),
      outcome: { code: 'schema.wrong_type' },
    },
    {
      name: 'a timestamp at hour 24',
      source: 'web',
      message: (id) => json(web(id, { occurred_at: '2026-02-03T24:00:00Z' })),
      outcome: { code: 'schema.wrong_type' },
    },
    {
      name: 'a timestamp with minute 60',
      source: 'web',
      message: (id) => json(web(id, { occurred_at: '2026-02-03T10:60:00Z' })),
      outcome: { code: 'schema.wrong_type' },
    },
    {
      name: 'epoch milliseconds beyond any date',
      source: 'web',
      message: (id) => json(web(id, { occurred_at: 9e15 })),
      outcome: { code: 'schema.wrong_type' },
    },
    {
      name: 'an impossible date (29 February 2023)',
      source: 'crm',
      message: (id) => json(crm(id, { birth_date: '2023-02-29' })),
      outcome: { code: 'schema.wrong_type' },
    },
    { name: 'a date in another format', source: 'crm', message: (id) => json(crm(id, { birth_date: '01/04/1990' })), outcome: { code: 'schema.wrong_type' } },
    {
      name: 'an int beyond 32 bits in JSON',
      source: 'crm',
      message: (id) => json(crm(id, { loyalty_points: 2 ** 33 })),
      outcome: { code: 'schema.wrong_type' },
    },
    { name: 'a fraction where an int belongs', source: 'crm', message: (id) => json(crm(id, { loyalty_points: 1.5 })), outcome: { code: 'schema.wrong_type' } },
    {
      name: 'an amount with more decimals than its scale',
      source: 'commerce',
      message: (id) => json(order(id, { total_amount: '59.901' })),
      outcome: { code: 'schema.decimal_out_of_range' },
    },
    {
      name: 'a float amount with more digits than its scale',
      source: 'commerce',
      message: (id) => json(order(id, { total_amount: 59.901 })),
      outcome: { code: 'schema.decimal_out_of_range' },
    },
    {
      name: 'an amount beyond its precision',
      source: 'commerce',
      message: (id) => json(order(id, { total_amount: '12345678901.00' })),
      outcome: { code: 'schema.decimal_out_of_range' },
    },
    {
      name: 'an amount that is not a number',
      source: 'commerce',
      message: (id) => json(order(id, { total_amount: '59,90' })),
      outcome: { code: 'schema.wrong_type' },
    },
    {
      name: 'a c360.entity header naming no entity',
      source: 'web',
      message: (id) => json(web(id), { [HEADER.entity]: 'Nope' }),
      outcome: { code: 'decode.unknown_entity' },
    },
    { name: 'an empty ingest id header', source: 'web', message: (id) => json(web(id), { [HEADER.ingestId]: '' }), outcome: { code: 'lineage.invalid' } },
    {
      name: 'an ingest id of 10,000 characters',
      source: 'web',
      message: (id) => json(web(id), { [HEADER.ingestId]: 'i'.repeat(10_000) }),
      outcome: { code: 'lineage.invalid' },
    },
    {
      name: 'an origin header that is not JSON',
      source: 'web',
      message: (id) => json(web(id), { [HEADER.origin]: 'file.csv row 3' }),
      outcome: { code: 'lineage.invalid' },
    },
    {
      name: 'an origin header that is a JSON array',
      source: 'web',
      message: (id) => json(web(id), { [HEADER.origin]: '[1,2]' }),
      outcome: { code: 'lineage.invalid' },
    },
    {
      name: 'a received_at in the year 9999',
      source: 'web',
      message: (id) => json(web(id), { [HEADER.receivedAt]: '9999-12-31T23:59:59Z' }),
      outcome: { code: 'lineage.invalid' },
    },
    {
      name: 'a received_at in 1970',
      source: 'web',
      message: (id) => json(web(id), { [HEADER.receivedAt]: '1970-01-01T00:00:00Z' }),
      outcome: { code: 'lineage.invalid' },
    },
    {
      name: 'a received_at that is not a date',
      source: 'web',
      message: (id) => json(web(id), { [HEADER.receivedAt]: 'yesterday' }),
      outcome: { code: 'lineage.invalid' },
    },
    {
      name: 'an unknown source kind',
      source: 'web',
      message: (id) => json(web(id), { [HEADER.sourceKind]: 'carrier-pigeon' }),
      outcome: { code: 'lineage.invalid' },
    },
    {
      name: 'a Kafka timestamp of 1970 and no received_at',
      source: 'web',
      message: (id) => ({ ...json(web(id)), timestamp: '1000' }),
      outcome: { code: 'lineage.invalid' },
    },
    { name: 'an email that is not one', source: 'web', message: (id) => json(web(id, { email: 'not an email' })), outcome: { code: 'quality.email_invalid' } },
    { name: 'a latitude of 91', source: 'web', message: (id) => json(web(id, { 'geo.latitude': 91 })), outcome: { code: 'quality.latitude_out_of_range' } },
    {
      name: 'an IMEI with a bad check digit',
      source: 'web',
      message: (id) => json(web(id, { 'device.device_id': '490154203237519' })),
      outcome: { code: 'quality.device_id_invalid' },
    },
    {
      name: 'a number too large for a double',
      source: 'web',
      message: (id) => ({ key: 'k', value: JSON.stringify(web(id)).replace('53.3498', '1e400') }),
      outcome: { code: 'schema.wrong_type' },
    },
  ];

  it(`routes ${classes.length} classes each to its exact place, and lands every canary sent after one`, async () => {
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const expected = new Map<string, { cls: HostileClass; id: string }>();
    for (const [i, cls] of classes.entries()) {
      const id = `h${i}-${namespace}`;
      const m = await cls.message(id);
      expected.set(id, { cls, id });
      const canary = canaryOf[cls.source](`canary-${i}-${namespace}`);
      await producer.send({
        topic: names.ingest(cls.source),
        acks: -1,
        messages: [
          { ...m, key: id, partition: 0 },
          { key: `canary-${i}`, value: JSON.stringify(canary), partition: 0 },
        ],
      });
    }
    await producer.disconnect();

    const total = classes.length * 2;
    // A generous wait (CI runs this beside crash and scaling tests); on a timeout, say how far the ledger got.
    let seen = 0;
    const ledger = await waitForLedger(
      kafka,
      names,
      (l) => {
        seen = l.total.in;
        return l.total.in === total;
      },
      240_000,
    ).catch(async (err: Error) => {
      const lag = await groupLag(kafka, names.topologyGroup, (['crm', 'web', 'commerce'] as const).map(names.ingest));
      const admin = kafka.admin();
      await admin.connect();
      const ledgerEnd = await admin.fetchTopicOffsets(names.ledger).finally(() => admin.disconnect());
      throw new Error(
        `${err.message}: the ledger counted ${seen} of ${total} records; ledger topic ends at ${JSON.stringify(ledgerEnd)}; ` +
          `topology lag ${JSON.stringify(lag)}; recent warnings:\n${recentLogs()}`,
      );
    });
    const deadCount = classes.filter((c) => c.outcome !== 'raw').length;
    expect(ledger.total).toMatchObject({ in: total, dead_letter: deadCount, raw: total - deadCount, duplicates: 0 });

    // Dead letters by the hostile record's key: each has exactly the expected first code.
    const deadLetter = loadSchema('DeadLetter').type;
    const dead = await collect(kafka, names.deadLetter, (s) => s.length >= deadCount);
    const byKey = new Map(dead.map((m) => [m.key!.toString(), deadLetter.fromBuffer(m.value!.subarray(5)) as Record<string, unknown>]));
    const outcomes = classes.map((cls, i) => {
      const letter = byKey.get(`h${i}-${namespace}`);
      return [cls.name, letter ? (letter.errors as Array<{ code: string }>)[0]!.code : 'raw'];
    });
    expect(outcomes).toEqual(classes.map((c) => [c.name, c.outcome === 'raw' ? 'raw' : c.outcome.code]));

    // Every canary, and every class meant to land, is in raw; map keys named __proto__ came through as keys.
    const landed = new Map<string, Buffer>();
    for (const source of ['crm', 'web', 'commerce'] as const) {
      const want = classes.filter((c) => c.source === source).length + classes.filter((c) => c.source === source && c.outcome === 'raw').length;
      for (const m of await collect(kafka, names.raw(source), (s) => s.length >= want)) landed.set(m.key!.toString(), m.value!);
    }
    for (const [i, cls] of classes.entries()) expect(landed.has(`canary-${i}-${namespace}`), `canary after ${cls.name}`).toBe(true);
    const writers = new WriterSchemas(config);
    const rawOf = async (i: number) => {
      const value = landed.get(`h${i}-${namespace}`)!;
      await writers.fetch([value.readInt32BE(1)]);
      // Properties are free-form, sealed in raw: read as someone allowed to.
      const stored = writers.get(value.readInt32BE(1))!.fromBuffer(value.subarray(5)) as Record<string, unknown>;
      return (await readable(namespace, 'web', 'BehavioralEvent', stored)) as { properties: Record<string, string>; session_id?: unknown };
    };
    const mapClass = classes.findIndex((c) => c.name === 'an Avro map key named __proto__');
    expect(Object.entries((await rawOf(mapClass)).properties)).toEqual([
      ['__proto__', 'kept'],
      ['constructor', 'kept too'],
    ]);
    expect(Object.keys((await rawOf(classes.findIndex((c) => c.name === 'a JSON map key named __proto__'))).properties)).toEqual(['__proto__']);
    expect((await rawOf(classes.findIndex((c) => c.name === 'a real U+FFFD in a string'))).session_id).toBe('a\uFFFDb');

    // The oversized dead letter fits its topic: its original is out of line, content-addressed, and reads back whole.
    const big = byKey.get(`h${classes.findIndex((c) => c.name.startsWith('a record over maxRecordBytes'))}-${namespace}`)!;
    expect(big.original_value).toBeNull();
    const ref = big.original_value_ref as { key: string; sha256: string; size: number };
    // The worker keeps it where the raw layer lives (C360_STORAGE_URL, else C360_DATA_DIR), as the test's config says.
    const original = await openObjectStore(config).read(ref.key);
    expect(original.length).toBe(ref.size);
    expect(hash('sha256', original, 'hex')).toBe(ref.sha256);
    expect(ref.size).toBeGreaterThan(MAX_RECORD_BYTES);
  }, 300_000);
});
