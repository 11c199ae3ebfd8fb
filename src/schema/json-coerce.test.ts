import { describe, expect, it } from 'vitest';
import { crmProfile, transaction } from '../../test/fixtures/records.js';
import { loadSchema } from './avro.js';
import { compileJsonCoercer } from './json-coerce.js';

const profile = compileJsonCoercer(loadSchema('CustomerProfile').schema);
const order = compileJsonCoercer(loadSchema('Transaction').schema);
const codes = (r: { errors: { code: string; field: string | null }[] }) => r.errors.map((e) => `${e.code}@${e.field ?? ''}`);

describe('JSON coercion against an entity schema', () => {
  it('turns ISO dates and timestamps into their logical types and keeps the rest', () => {
    const { value, errors } = profile(crmProfile);
    expect(errors).toEqual([]);
    const v = value as Record<string, unknown>;
    expect(v.birth_date).toBe(Date.UTC(1990, 3, 1) / 86_400_000);
    expect(v.updated_at).toBe(Date.parse('2026-11-01T10:00:00Z'));
    expect(v.address).toEqual(crmProfile.address);
    expect(v.loyalty_points).toBe(1200);
  });

  it('refuses a map key with a lone surrogate (UTF-8 cannot hold it), naming the map, and keeps every other key', () => {
    const web = compileJsonCoercer(loadSchema('BehavioralEvent').schema);
    const event = { event_id: 'e', event_type: 'TRACK', occurred_at: '2026-11-20T08:30:00Z', properties: JSON.parse('{"ok":"1","bad\\ud800":"2"}') };
    expect(codes(web(event))).toEqual(['decode.invalid_utf8@properties']);
    expect(web({ ...event, properties: { ok: '1', __proto__: 'kept' } }).errors).toEqual([]);
  });

  it('keeps decimals exact as strings and fills defaults of optional fields', () => {
    const { value, errors } = order({ ...transaction, customer_id: undefined, total_amount: 10.5 });
    expect(errors).toEqual([]);
    const v = value as Record<string, unknown>;
    expect(v.total_amount).toBe('10.50');
    expect(v.customer_id).toBeNull();
  });

  it.each([
    ['a missing required field', { ...crmProfile, customer_id: undefined }, ['schema.missing_required@customer_id']],
    ['a null required field', { ...crmProfile, customer_id: null }, ['schema.missing_required@customer_id']],
    ['a number where a string belongs', { ...crmProfile, customer_id: 42 }, ['schema.wrong_type@customer_id']],
    ['a string where an int belongs', { ...crmProfile, loyalty_points: '12' }, ['schema.wrong_type@loyalty_points']],
    ['a fraction where an int belongs', { ...crmProfile, loyalty_points: 1.5 }, ['schema.wrong_type@loyalty_points']],
    ['a string where a boolean belongs', { ...crmProfile, marketing_consent: 'yes' }, ['schema.wrong_type@marketing_consent']],
    ['an unknown enum symbol', { ...crmProfile, loyalty_tier: 'DIAMOND' }, ['schema.enum_not_allowed@loyalty_tier']],
    ['a timestamp that is not ISO 8601', { ...crmProfile, updated_at: 'yesterday' }, ['schema.wrong_type@updated_at']],
    ['a date that is not YYYY-MM-DD', { ...crmProfile, birth_date: '01/04/1990' }, ['schema.wrong_type@birth_date']],
    ['a nested field of the wrong type', { ...crmProfile, address: { ...crmProfile.address, city: 7 } }, ['schema.wrong_type@address.city']],
    ['a record given as a string', { ...crmProfile, address: 'Dublin' }, ['schema.wrong_type@address']],
  ])('%s is a typed error at its path', (_what, input, expected) => {
    expect(codes(profile(input))).toEqual(expected);
  });

  it.each([
    ['a decimal with more digits than its scale', { total_amount: '10.555' }, 'schema.decimal_out_of_range@total_amount'],
    ['a float amount with more digits than its scale', { total_amount: 10.001 }, 'schema.decimal_out_of_range@total_amount'],
    ['a decimal beyond its precision', { total_amount: '12345678901.00' }, 'schema.decimal_out_of_range@total_amount'],
    ['an amount that is not a number', { total_amount: 'ten' }, 'schema.wrong_type@total_amount'],
    ['an impossible date-time (30 February)', { occurred_at: '2024-02-30T10:00:00Z' }, 'schema.wrong_type@occurred_at'],
    ['an hour 24', { occurred_at: '2024-02-03T24:00:00Z' }, 'schema.wrong_type@occurred_at'],
    ['epoch milliseconds beyond what a date can hold', { occurred_at: 9e15 }, 'schema.wrong_type@occurred_at'],
    ['a line item field of the wrong type', { line_items: [{ ...transaction.line_items[0], quantity: 'two' }] }, 'schema.wrong_type@line_items[0].quantity'],
    ['line items that are not an array', { line_items: {} }, 'schema.wrong_type@line_items'],
    ['an unknown sales channel', { channel: 'FAX' }, 'schema.enum_not_allowed@channel'],
  ])('%s in an order is refused', (_what, change, expected) => {
    expect(codes(order({ ...transaction, ...change }))).toContain(expected);
  });

  it('reports every problem of a record, not only the first', () => {
    expect(codes(profile({ ...crmProfile, customer_id: null, loyalty_tier: 'DIAMOND' }))).toEqual([
      'schema.missing_required@customer_id',
      'schema.enum_not_allowed@loyalty_tier',
    ]);
  });

  it('never quotes the value in its messages (it may be personal data)', () => {
    const { errors } = profile({ ...crmProfile, customer_id: 'ann@example.com'.length, email: 12 });
    expect(JSON.stringify(errors)).not.toContain('ann@example.com');
  });
});
