import { describe, expect, it } from 'vitest';
import { latitudeRule, longitudeRule } from './coordinates.js';
import { countryRule } from './country.js';
import { postalCodeRule } from './postal-code.js';
import { regionRule } from './region.js';

const now = Date.now();

describe('country rule', () => {
  const check = countryRule.create(countryRule.options.parse(undefined));
  it('accepts alpha-2 codes and upper-cases them', () => {
    expect(check('IE', { record: {}, now })).toEqual({ ok: true, value: 'IE' });
    expect(check('de', { record: {}, now })).toEqual({ ok: true, value: 'DE' });
  });
  it.each(['IRL', 'XX', 'UK', '', 'I'])('rejects %s', (c) => expect(check(c, { record: {}, now })).toMatchObject({ code: 'quality.country_invalid' }));
});

describe('region rule', () => {
  const check = regionRule.create(regionRule.options.parse({ countryField: 'address.country' }));
  const inCountry = (country: string) => ({ record: { address: { country } }, now });
  it('accepts a subdivision of the record country', () => {
    expect(check('US-CA', inCountry('US'))).toEqual({ ok: true, value: 'US-CA' });
    expect(check('ie-d', inCountry('IE'))).toEqual({ ok: true, value: 'IE-D' });
  });
  it('rejects a subdivision of another country, and an unknown code', () => {
    expect(check('US-CA', inCountry('IE'))).toMatchObject({ ok: false, code: 'quality.region_invalid' });
    expect(check('US-ZZ', inCountry('US'))).toMatchObject({ ok: false, code: 'quality.region_invalid' });
    expect(check('California', inCountry('US'))).toMatchObject({ ok: false, code: 'quality.region_invalid' });
  });
});

describe('postal code rule', () => {
  const check = postalCodeRule.create(postalCodeRule.options.parse({ countryField: 'address.country' }));
  const inCountry = (country: string) => ({ record: { address: { country } }, now });
  it.each([
    ['US', '94103'],
    ['US', '94103-1234'],
    ['GB', 'SW1A 1AA'],
    ['IE', 'D02 X285'],
    ['DE', '10115'],
  ])('accepts %s %s', (country, code) => expect(check(code, inCountry(country))).toEqual({ ok: true }));
  it.each([
    ['US', '9410'],
    ['DE', '1011'],
    ['GB', '12345'],
  ])('rejects %s %s', (country, code) => expect(check(code, inCountry(country))).toMatchObject({ ok: false, code: 'quality.postal_code_invalid' }));
  it('passes a code for a country it has no pattern for', () => expect(check('anything', inCountry('TV'))).toEqual({ ok: true }));
});

describe('latitude and longitude rules', () => {
  const lat = latitudeRule.create(latitudeRule.options.parse(undefined));
  const lon = longitudeRule.create(longitudeRule.options.parse(undefined));
  const ctx = { record: {}, now };
  it('accept the bounds', () => {
    for (const v of [-90, 0, 53.35, 90]) expect(lat(v, ctx)).toEqual({ ok: true });
    for (const v of [-180, -6.26, 180]) expect(lon(v, ctx)).toEqual({ ok: true });
  });
  it('reject values past them', () => {
    expect(lat(90.0001, ctx)).toMatchObject({ code: 'quality.latitude_out_of_range' });
    expect(lat(-91, ctx)).toMatchObject({ code: 'quality.latitude_out_of_range' });
    expect(lon(180.5, ctx)).toMatchObject({ code: 'quality.longitude_out_of_range' });
    expect(lon(-181, ctx)).toMatchObject({ code: 'quality.longitude_out_of_range' });
  });
});
