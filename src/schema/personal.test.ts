import { describe, expect, it } from 'vitest';
import { listSchemas, loadSchema } from './avro.js';
import { fieldsOf, PII_KINDS, personalFieldNames, personalFields, undecidedFreeForm } from './personal.js';

/** Names that usually hold personal data: a field so named must say what it holds. */
const LOOKS_PERSONAL =
  /(^|_)(e?mail|phone|mobile|name|birth|dob|address|line\d|postal|zip|street|city|device_id|ip|latitude|longitude|user_agent|anonymous|cookie|session|ssn|passport|national_id|transcript|subject|customer_id|loyalty_id)($|_)/;

describe('personal data in the contracts', () => {
  it.each(listSchemas())('%s marks every field whose name looks personal (a kind, or "none"; a record marks its own fields)', (name) => {
    const unmarked = fieldsOf(loadSchema(name).schema).filter((f) => LOOKS_PERSONAL.test(f.name) && f.mark === undefined && !f.record);
    expect(unmarked.map((f) => f.path)).toEqual([]);
  });

  it.each(listSchemas())('%s uses only known kinds', (name) => {
    const marks = fieldsOf(loadSchema(name).schema).flatMap((f) => (f.mark === undefined ? [] : [f.mark]));
    for (const m of marks) expect([...PII_KINDS, 'none']).toContain(m);
  });

  it('finds nested personal fields with their paths', () => {
    expect(personalFields(loadSchema('CustomerProfile').schema)).toEqual([
      { path: 'email', kind: 'email' },
      { path: 'first_name', kind: 'name' },
      { path: 'last_name', kind: 'name' },
      { path: 'phone', kind: 'phone' },
      { path: 'birth_date', kind: 'birth_date' },
      { path: 'address.line1', kind: 'address' },
      { path: 'address.line2', kind: 'address' },
      { path: 'address.postal_code', kind: 'address' },
    ]);
    expect(personalFields(loadSchema('BehavioralEvent').schema).map((f) => f.path)).toContain('device.device_id');
  });

  it('gives redaction the names of every personal field, and not the fields marked none', () => {
    const names = personalFieldNames();
    for (const n of ['email', 'phone', 'first_name', 'birth_date', 'line1', 'postal_code', 'device_id', 'user_agent', 'anonymous_id', 'transcript'])
      expect(names).toContain(n);
    for (const n of ['customer_id', 'name', 'city', 'product_name']) expect(names).not.toContain(n);
  });

  it.each(listSchemas())('%s decides every free-form field: sealed (free_text) or nothing personal (none)', (name) => {
    expect(undecidedFreeForm(loadSchema(name).schema)).toEqual([]);
  });

  it('finds a free-form field no one decided: a map, or a string named like a link or a note, nested ones included', () => {
    const schema = {
      type: 'record',
      name: 'X',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'attributes', type: ['null', { type: 'map', values: 'string' }] },
        { name: 'landing_url', type: 'string' },
        { name: 'status', type: 'string' },
        {
          name: 'ticket',
          type: {
            type: 'record',
            name: 'T',
            fields: [
              { name: 'notes', type: 'string' },
              { name: 'tags', type: { type: 'map', values: 'int' } },
            ],
          },
        },
        { name: 'decided', 'c360.pii': 'none', type: { type: 'map', values: 'string' } },
      ],
    };
    expect(undecidedFreeForm(schema)).toEqual(['attributes', 'landing_url', 'ticket.notes', 'ticket.tags']);
  });
});
