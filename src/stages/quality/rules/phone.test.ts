import { describe, expect, it } from 'vitest';
import { phoneRule } from './phone.js';

const check = phoneRule.create(phoneRule.options.parse({ countryField: 'address.country' }));
const at = (country: string | null) => ({ record: { address: { country } }, now: Date.now() });

describe('phone rule', () => {
  it('normalises a national number to E.164 with the record country as region', () => {
    expect(check('086 123 4567', at('IE'))).toEqual({ ok: true, value: '+353861234567' });
    expect(check('(415) 555-2671', at('US'))).toEqual({ ok: true, value: '+14155552671' });
  });
  it('keeps an international number whatever the country', () => {
    expect(check('+44 20 7946 0958', at('IE'))).toEqual({ ok: true, value: '+442079460958' });
  });
  it('reads a national number without a country as invalid', () => {
    expect(check('086 123 4567', at(null))).toMatchObject({ ok: false, code: 'quality.phone_invalid' });
  });
  it.each(['12', '+353 1', 'not a phone', '+999 1234567'])('rejects %s', (phone) => {
    expect(check(phone, at('IE'))).toMatchObject({ ok: false, code: 'quality.phone_invalid' });
  });
  it('uses the default country when the record has none', () => {
    const withDefault = phoneRule.create(phoneRule.options.parse({ countryField: 'country', defaultCountry: 'GB' }));
    expect(withDefault('020 7946 0958', { record: {}, now: 0 })).toEqual({ ok: true, value: '+442079460958' });
  });
});
