// Each stage's decisions in-process, with no service: decode, quality, the dedup claim rules.
import { hash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crmProfile, product, transaction, variant, webEvent } from '../../test/fixtures/records.js';
import { envelopeOf, NOW, offlineContext } from '../../test/support/stages.js';
import { frame } from '../contracts/framing.js';
import { HEADER } from '../contracts/lineage.js';
import { loadSchema, parseType } from '../schema/avro.js';
import { claimBody, claimValue } from '../storage/dedup-claims.js';
import { packFields } from '../storage/sliced-state.js';
import { decodeStage } from './decode.js';
import { claimOf, decide } from './dedup.js';
import type { Envelope } from './envelope.js';
import { qualityStage } from './quality.js';

const ctx = offlineContext();
const entity = (id: string) => ctx.entities.get(id)!;
const control = { heartbeat: async () => undefined, isRunning: () => true };
const decode = decodeStage.create(ctx);
const quality = qualityStage.create(ctx);
const outcome = (e: Envelope) => (e.outcome === 'dead-letter' ? e.errors.map((x) => `${x.code}@${x.field ?? ''}`).join(',') : e.outcome);

async function decoded(id: string, value: Buffer | string | null, headers?: Record<string, string>): Promise<Envelope> {
  const e = envelopeOf(entity(id), value, headers);
  await decode.process([e], control);
  return e;
}

describe('decode', () => {
  const profileId = 101;
  const productId = 102;
  ctx.writerSchemas.remember(profileId, loadSchema('CustomerProfile').schema);
  ctx.writerSchemas.remember(productId, loadSchema('Product').schema);
  const avroProfile = () => loadSchema('CustomerProfile').type.toBuffer(entity('crm').coerceJson(crmProfile).value);

  it.each([
    ['an empty value', '', 'decode.malformed@'],
    ['no value at all', null, 'decode.malformed@'],
    ['plain text', 'hello', 'decode.malformed@'],
    ['a JSON array', '[1,2]', 'decode.malformed@'],
    ['broken JSON', '{"customer_id": ', 'decode.invalid_json@'],
    ['a record over the size limit', JSON.stringify({ ...crmProfile, first_name: 'A'.repeat(1_100_000) }), 'size.too_large@'],
    ['a JSON record missing its key', JSON.stringify(variant(crmProfile, { customer_id: undefined })), 'schema.missing_required@customer_id'],
    ['a JSON record of the wrong type', JSON.stringify(variant(crmProfile, { loyalty_points: 'many' })), 'schema.wrong_type@loyalty_points'],
    ['a frame too short for a schema id', Buffer.from([0, 0, 1]), 'decode.truncated@'],
    ['an Avro body cut short', () => frame(profileId, avroProfile().subarray(0, 10)), 'decode.truncated@'],
    ['bytes after the Avro record', () => frame(profileId, Buffer.concat([avroProfile(), Buffer.from([1])])), 'decode.truncated@'],
  ])('%s is dead-lettered with its code', async (_what, value, expected) => {
    const e = await decoded('crm', typeof value === 'function' ? value() : value);
    expect(outcome(e)).toBe(expected);
  });

  it('decodes a valid JSON record and a valid Avro record to the same value', async () => {
    const json = await decoded('crm', JSON.stringify(crmProfile));
    const avro = await decoded('crm', frame(profileId, avroProfile()));
    expect([json.outcome, avro.outcome]).toEqual(['pending', 'pending']);
    expect(avro.value).toEqual(json.value);
  });

  it("tells a source's entities apart by the Avro writer schema, or by the entity header for JSON", async () => {
    const avroProduct = { ...product, updated_at: Date.parse(product.updated_at) };
    const avro = await decoded('commerce', frame(productId, loadSchema('Product').type.toBuffer(avroProduct)));
    const json = await decoded('commerce', JSON.stringify(product), { [HEADER.entity]: 'Product' });
    const order = await decoded('commerce', JSON.stringify(transaction));
    expect([avro.entity.id, json.entity.id, order.entity.id]).toEqual(['commerce/Product', 'commerce/Product', 'commerce']);
    expect(outcome(await decoded('commerce', JSON.stringify(product), { [HEADER.entity]: 'Coupon' }))).toBe('decode.unknown_entity@');
  });
});

describe('quality', () => {
  async function checked(id: string, value: unknown): Promise<Envelope> {
    const e = await decoded(id, JSON.stringify(value));
    await quality.process([e], control);
    return e;
  }

  it('passes a clean record and normalises what its rules normalise', async () => {
    const e = await checked('crm', crmProfile);
    expect(e.outcome).toBe('pending');
    expect(e.value).toMatchObject({ email: 'Ann.Lee+promo@example.com', phone: '+353861234567' });
  });

  it('dead-letters a record with every error at severity error, each at its path', async () => {
    const e = await checked(
      'crm',
      variant(crmProfile, { email: 'not-an-email', 'address.country': 'XX', 'address.region': null, 'address.postal_code': null, phone: null }),
    );
    expect(outcome(e)).toBe('quality.email_invalid@email,quality.country_invalid@address.country');
    expect(e.failedStage).toBe('quality');
  });

  it('checks every item of a list, naming the item', async () => {
    const e = await checked('commerce', { ...transaction, line_items: [transaction.line_items[0], { ...transaction.line_items[1], unit_price: '-1.00' }] });
    expect(outcome(e)).toBe('quality.amount_negative@line_items[1].unit_price');
  });

  it('lets a warning pass, flagged, and drops an opted-out advertising id', async () => {
    const e = await checked('web', variant(webEvent, { 'device.id_type': 'IDFA', 'device.device_id': '00000000-0000-0000-0000-000000000000' }));
    expect(e.outcome).toBe('pending');
    expect(e.flags).toEqual(['quality.device_id_opt_out']);
    expect((e.value as { device: { device_id: unknown } }).device.device_id).toBeNull();
  });

  it('judges a timestamp by the clock it is given', async () => {
    const e = await checked('web', variant(webEvent, { occurred_at: new Date(NOW + 3_600_000).toISOString() }));
    expect(outcome(e)).toBe('quality.timestamp_in_future@occurred_at');
  });
});

describe('dedup decisions', () => {
  async function claimed(id: string, value: unknown) {
    const e = await decoded(id, JSON.stringify(value));
    return claimOf(e, e.value!, { legacyPrefix: 'unit:dedup', ingestTopic: e.topic, now: NOW });
  }
  /** A claim another record made, as Redis holds it: its position (topic left out: its source's ingest topic), and an event's hash and ingest id. */
  const other = (...fields: string[]) => claimValue(NOW - 1000, packFields(['', ...fields]));

  it('claims a profile by its content and an event by its id, each under a 12-byte digest of that name', async () => {
    const profile = await claimed('crm', crmProfile);
    const event = await claimed('web', webEvent);
    expect(profile.legacyKey).toMatch(/^unit:dedup:crm:c:[A-Za-z0-9_-]{27}$/);
    expect(event.legacyKey).toBe('unit:dedup:web:id:ev-1');
    expect(profile.digest).toHaveLength(12);
    expect(profile.digest.equals(hash('sha1', profile.legacyKey.slice('unit:dedup:'.length), 'buffer').subarray(0, 12))).toBe(true);
    // The version, when it was made (seconds), then the position: its topic left out, the record's own topic being its ingest topic.
    expect(profile.claim.subarray(0, 5)).toEqual(claimValue(NOW, Buffer.alloc(0)));
    expect(claimBody(profile.claim)).toEqual(packFields(['', String(profile.e.partition), profile.e.message.offset]));
    expect(claimBody(event.claim)).toEqual(
      packFields(['', String(event.e.partition), event.e.message.offset, event.hash.slice(0, 11), event.e.lineage.ingestId]),
    );
  });

  it('the same content has the same claim, whatever its position', async () => {
    expect((await claimed('crm', crmProfile)).digest).toEqual((await claimed('crm', crmProfile)).digest);
    expect((await claimed('crm', crmProfile)).digest).not.toEqual((await claimed('crm', variant(crmProfile, { loyalty_points: 1 }))).digest);
  });

  it('a claim nobody held is new; one held by another position is a duplicate, in either layout', async () => {
    const w = await claimed('crm', crmProfile);
    expect(decide(w, null, NOW, w.e.topic)).toEqual({ kind: 'new' });
    expect(decide(w, other('0', '99999'), NOW, w.e.topic)).toEqual({ kind: 'duplicate' });
    expect(decide(w, Buffer.from(`${w.e.topic}/0/99999`), NOW, w.e.topic)).toEqual({ kind: 'duplicate' });
  });

  it("a claim from the record's own position is its own earlier work, replayed: new, in either layout", async () => {
    const w = await claimed('crm', crmProfile);
    expect(decide(w, w.claim, NOW, w.e.topic)).toEqual({ kind: 'new' });
    expect(decide(w, Buffer.from(w.position), NOW, w.e.topic)).toEqual({ kind: 'new' });
    // The same offset of another topic is another record.
    const elsewhere = claimValue(NOW, packFields(['unit.replay', String(w.e.partition), w.e.message.offset]));
    expect(decide(w, elsewhere, NOW, w.e.topic)).toEqual({ kind: 'duplicate' });
  });

  it('the same event id with the same content is a duplicate, with other content an id collision naming both', async () => {
    const w = await claimed('web', webEvent);
    expect(decide(w, other('1', '5', w.hash.slice(0, 11), 'other-ingest-id'), NOW, w.e.topic)).toEqual({ kind: 'duplicate' });
    expect(decide(w, Buffer.from(`unit.ingest.web/1/5|${w.hash}|other-ingest-id`), NOW, w.e.topic)).toEqual({ kind: 'duplicate' });
    for (const previous of [other('1', '5', 'another-has', 'other-ingest-id'), Buffer.from('unit.ingest.web/1/5|another-hash|other-ingest-id')]) {
      const d = decide(w, previous, NOW, 'unit.ingest.web');
      expect(d.kind === 'collision' && d.event).toMatchObject({
        kind: 'ID_COLLISION',
        keys: ['event_id'],
        matched: { ingest_id: 'other-ingest-id', topic: 'unit.ingest.web', partition: 1, offset: 5 },
        detected_at: NOW,
      });
    }
  });
});

describe('declarative rules in the quality stage', () => {
  const declared = offlineContext({
    name: 'declared',
    sources: [
      {
        name: 'web',
        entity: 'BehavioralEvent',
        key: 'event_id',
        quality: [
          { field: 'properties.order_id', rule: 'not_null' },
          { field: 'properties.order_id', rule: 'pattern', options: { regex: '^ORD-\\d+$' } },
          { field: 'event_type', rule: 'one_of', options: { values: ['PAGE_VIEW', 'ORDER_COMPLETED'] } },
          { field: 'session_id', rule: 'length', options: { max: 8 }, severity: 'warn' },
          { field: 'geo.latitude', rule: 'range', options: { min: 40, max: 60 } },
        ],
      },
    ],
  });
  const web = declared.entities.get('web')!;
  const run = async (patch: Record<string, unknown>) => {
    const e = envelopeOf(web, JSON.stringify(variant(webEvent, patch)));
    await decodeStage.create(declared).process([e], control);
    await qualityStage.create(declared).process([e], control);
    return e;
  };

  it('passes the control, and dead-letters or flags each rule on its own case', async () => {
    const control = await run({ properties: { order_id: 'ORD-1' } });
    expect([outcome(control), control.flags]).toEqual(['pending', []]);
    expect(outcome(await run({ properties: {} }))).toBe('quality.required_missing@properties.order_id');
    expect(outcome(await run({ properties: { order_id: '  ' } }))).toBe(
      'quality.required_missing@properties.order_id,quality.pattern_mismatch@properties.order_id',
    );
    expect(outcome(await run({ properties: { order_id: 'X-1' } }))).toBe('quality.pattern_mismatch@properties.order_id');
    expect(outcome(await run({ properties: { order_id: 'ORD-1' }, event_type: 'CLICK' }))).toBe('quality.not_allowed@event_type');
    expect(outcome(await run({ properties: { order_id: 'ORD-1' }, geo: { ...webEvent.geo, latitude: 10 } }))).toBe('quality.out_of_range@geo.latitude');
    const long = await run({ properties: { order_id: 'ORD-1' }, session_id: 's-123456789' });
    expect([outcome(long), long.flags]).toEqual(['pending', ['quality.length_out_of_range']]);
    // An absent field is for not_null alone: the other rules skip it, as they skip a null.
    expect(outcome(await run({ properties: { order_id: 'ORD-1' }, geo: null }))).toBe('pending');
  });
});

describe('tracking plans in the quality stage', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-plan-'));
  const planned = (mode: 'quarantine' | 'flag') => {
    const file = path.join(dir, `web-${mode}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        mode,
        events: {
          'Order Completed': {
            required: ['order_id', 'total'],
            properties: {
              order_id: { type: 'string', pattern: '^ORD-' },
              total: { type: 'number', minimum: 0 },
              coupon: { type: ['string', 'null'] },
              currency: { enum: ['EUR', 'USD'] },
            },
            additionalProperties: false,
          },
          'Product Viewed': { properties: { sku: { type: 'string' } } },
        },
      }),
    );
    const context = offlineContext({ name: 'planned', sources: [{ name: 'web', entity: 'BehavioralEvent', key: 'event_id', plan: file }] });
    return async (event_name: string | null, properties: Record<string, string>) => {
      const e = envelopeOf(context.entities.get('web')!, JSON.stringify(variant(webEvent, { event_name, properties })));
      await decodeStage.create(context).process([e], control);
      await qualityStage.create(context).process([e], control);
      return e;
    };
  };
  const order = { order_id: 'ORD-1', total: '59.90', currency: 'EUR' };

  it('types each violation, and quarantines the event in quarantine mode', async () => {
    const check = planned('quarantine');
    expect(outcome(await check('Order Completed', order))).toBe('pending');
    expect(outcome(await check('Product Viewed', { sku: 'SKU-1', anything: 'else' }))).toBe('pending');
    // Page and screen views name no event: the plan is about named events.
    expect(outcome(await check(null, {}))).toBe('pending');
    expect(outcome(await check('Order Refunded', order))).toBe('plan.unplanned_event@event_name');
    expect(outcome(await check('Order Completed', { order_id: 'ORD-1' }))).toBe('plan.required_property_missing@properties.total');
    expect(outcome(await check('Order Completed', { ...order, total: 'lots' }))).toBe('plan.wrong_type@properties.total');
    expect(outcome(await check('Order Completed', { ...order, gift: 'true' }))).toBe('plan.unexpected_property@properties.gift');
    expect(outcome(await check('Order Completed', { ...order, total: '-1', currency: 'GBP', order_id: 'X-1' }))).toBe(
      'plan.invalid_value@properties.order_id,plan.invalid_value@properties.total,plan.invalid_value@properties.currency',
    );
    // A property typed as text takes any text, one that looks like a number included.
    expect(outcome(await check('Order Completed', { ...order, coupon: '10' }))).toBe('pending');
  });

  it('lands the event flagged in flag mode', async () => {
    const check = planned('flag');
    const e = await check('Order Completed', { order_id: 'ORD-1', gift: 'yes' });
    expect([outcome(e), e.flags]).toEqual(['pending', ['plan.required_property_missing', 'plan.unexpected_property']]);
    const clean = await check('Order Completed', order);
    expect(clean.flags).toEqual([]);
  });

  it('lands the properties it types and declares not personal typed, in the raw schema only', async () => {
    const file = path.join(dir, 'web-landed.json');
    const typed = (type: string, pii?: string) => ({ type, ...(pii ? { 'c360.pii': pii } : {}) });
    fs.writeFileSync(
      file,
      JSON.stringify({
        mode: 'flag',
        events: {
          'Order Completed': {
            properties: {
              total: typed('number', 'none'),
              items: typed('integer', 'none'),
              gift: typed('boolean', 'none'),
              zip: typed('integer'),
              order_id: typed('string', 'none'),
            },
          },
          'Product Viewed': { properties: { total: typed('integer', 'none') } },
        },
      }),
    );
    const context = offlineContext({ name: 'landed', sources: [{ name: 'web', entity: 'BehavioralEvent', key: 'event_id', plan: file }] });
    const entity = context.entities.get('web')!;
    const run = async (event_name: string, properties: Record<string, string>) => {
      const e = envelopeOf(entity, JSON.stringify(variant(webEvent, { event_name, properties })));
      await decodeStage.create(context).process([e], control);
      await qualityStage.create(context).process([e], control);
      return e;
    };
    // A number and an integer of one name make one double column; zip is not declared not personal, order_id is text: neither lands.
    const column = (entity.encrypted.schema.fields as Array<{ name: string; type: unknown }>).find((f) => f.name === 'plan_properties')!;
    expect((column.type as [string, { fields: Array<{ name: string; type: unknown }> }])[1].fields).toEqual([
      { name: 'total', type: ['null', 'double'], default: null },
      { name: 'items', type: ['null', 'long'], default: null },
      { name: 'gift', type: ['null', 'boolean'], default: null },
    ]);
    const e = await run('Order Completed', { total: '59.9', items: '2', gift: 'true', zip: '10115', order_id: 'ORD-1' });
    expect(e.value!.plan_properties).toEqual({ total: 59.9, items: 2, gift: true });
    const columnType = parseType(column.type);
    expect(columnType.fromBuffer(columnType.toBuffer(e.value!.plan_properties))).toEqual({ total: 59.9, items: 2, gift: true });
    // A value that is not of its type lands null (the plan flags it); an event that lands nothing has no column value.
    expect((await run('Order Completed', { total: 'lots', items: '2.5' })).value!.plan_properties).toEqual({ total: null, items: null, gift: null });
    expect((await run('Signed Up', {})).value!.plan_properties).toBeUndefined();
    // The contract's own type knows nothing of it.
    expect(entity.type.fromBuffer(entity.type.toBuffer(e.value))).not.toHaveProperty('plan_properties');
  });
});
