import { describe, expect, it } from 'vitest';
import { canonicalEmail } from '../privacy/identifiers.js';
import { BLOCKING_RULES } from './blocking.js';
import { profileOf } from './comparisons.js';
import { jaroWinkler, MAX_COMPARED_CHARS, normaliseName } from './similarity.js';

describe('blocking keys and name similarity', () => {
  it('canonicalises emails: lower case, +tags, Gmail dots', () => {
    expect(canonicalEmail('Ann.Lee+promo@GoogleMail.com')).toBe('annlee@gmail.com');
    expect(canonicalEmail('a.n.n.lee@gmail.com')).toBe('annlee@gmail.com');
    expect(canonicalEmail('Ann.Lee+x@Example.ie')).toBe('ann.lee@example.ie');
    expect(canonicalEmail('not-an-email')).toBeUndefined();
  });
  it('keys last names by sound with the postal code, and first names by sound with the birth date', () => {
    const key = (rule: 'name_postal' | 'name_birth', p: Parameters<typeof profileOf>[0]) => BLOCKING_RULES[rule].key(profileOf(p));
    expect(key('name_postal', { lastName: 'Smith', postalCode: 'D02 X285' })).toBe(key('name_postal', { lastName: 'Smyth', postalCode: 'd02x285' }));
    expect(key('name_postal', { lastName: 'Smith', postalCode: 'D02 X285' })).not.toBe(key('name_postal', { lastName: 'Jones', postalCode: 'D02 X285' }));
    expect(key('name_postal', { lastName: 'Smith' })).toBeUndefined();
    expect(key('name_birth', { firstName: 'Katherine', birthDate: 4444 })).toBe(key('name_birth', { firstName: 'Catherine', birthDate: '1982-03-03' }));
  });
  it('scores names with Jaro-Winkler', () => {
    expect(jaroWinkler('martha', 'marhta')).toBeCloseTo(0.9611, 4);
    expect(jaroWinkler('dwayne', 'duane')).toBeCloseTo(0.84, 2);
    expect(jaroWinkler('ann lee', 'ann lee')).toBe(1);
    expect(jaroWinkler('abc', 'xyz')).toBe(0);
    expect(normaliseName('  Seán  O’Brien ')).toBe('sean obrien');
  });
  it('compares the first MAX_COMPARED_CHARS characters of a field, whatever its length: the work per pair is bounded', () => {
    const long = (c: string) => `${c}${'x'.repeat(1_000_000)}`;
    expect(jaroWinkler(long('a'), long('b'))).toBe(jaroWinkler(long('a').slice(0, MAX_COMPARED_CHARS), long('b').slice(0, MAX_COMPARED_CHARS)));
    const profile = profileOf({ firstName: long('Ann'), lastName: long('Lee'), address: long('1 Main St'), loyaltyId: long('L'), postalCode: long('D02') });
    for (const value of Object.values(profile)) expect(value.length).toBeLessThanOrEqual(MAX_COMPARED_CHARS);
    expect(profile.first_name).toBe(`annx${'x'.repeat(MAX_COMPARED_CHARS - 4)}`);
    expect(normaliseName(long('Seán')).length).toBe(MAX_COMPARED_CHARS);
  });
});
