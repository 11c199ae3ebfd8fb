import { describe, expect, it } from 'vitest';
import { canonicalEmail } from '../../privacy/identifiers.js';
import { jaroWinkler, namePostalKey, normaliseName } from './keys.js';

describe('near-duplicate blocking keys', () => {
  it('canonicalises emails: lower case, +tags, Gmail dots', () => {
    expect(canonicalEmail('Ann.Lee+promo@GoogleMail.com')).toBe('annlee@gmail.com');
    expect(canonicalEmail('a.n.n.lee@gmail.com')).toBe('annlee@gmail.com');
    expect(canonicalEmail('Ann.Lee+x@Example.ie')).toBe('ann.lee@example.ie');
    expect(canonicalEmail('not-an-email')).toBeUndefined();
  });
  it('keys last names by sound with the postal code', () => {
    expect(namePostalKey('Smith', 'D02 X285')).toBe(namePostalKey('Smyth', 'd02x285'));
    expect(namePostalKey('Smith', 'D02 X285')).not.toBe(namePostalKey('Jones', 'D02 X285'));
  });
  it('scores names with Jaro-Winkler', () => {
    expect(jaroWinkler('martha', 'marhta')).toBeCloseTo(0.9611, 4);
    expect(jaroWinkler('dwayne', 'duane')).toBeCloseTo(0.84, 2);
    expect(jaroWinkler('ann lee', 'ann lee')).toBe(1);
    expect(jaroWinkler('abc', 'xyz')).toBe(0);
    expect(normaliseName('  Seán  O’Brien ')).toBe('sean obrien');
  });
});
