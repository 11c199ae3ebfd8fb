import { describe, expect, it } from 'vitest';
import { ConfigError } from '../contracts/errors.js';
import { canonicalIdentifier, givenIdentifier, isEmail } from './identifiers.js';

describe('identifiers given to forget or export someone', () => {
  it('canonicalises them as ingest does', () => {
    expect(givenIdentifier('--email', 'email', ' Ann.Lee+promo@GoogleMail.com ', undefined)).toBe('annlee@gmail.com');
    expect(givenIdentifier('--phone', 'phone', '+353 85 123 4567', undefined)).toBe('+353851234567');
    // A national number, read in the configured region, meets the E.164 form the phone rule stored.
    expect(givenIdentifier('--phone', 'phone', '085 123 4567', 'IE')).toBe('+353851234567');
    expect(givenIdentifier('--phone', 'phone', '(085) 123-4567', 'IE')).toBe(canonicalIdentifier('phone', '+353851234567'));
    expect(givenIdentifier('--device-id', 'device', 'ABC-123', undefined)).toBe('abc-123');
    expect(givenIdentifier('--customer-id', 'customer_id', ' C-1 ', undefined)).toBe('C-1');
  });

  it('refuses what is no identifier, with one sentence naming the option', () => {
    const refused = (kind: string, value: string, region?: 'IE') => {
      try {
        givenIdentifier(`--${kind}`, kind, value, region);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(refused('phone', 'abc')).toBe(
      '--phone "abc" is not a valid international phone number (+<country code>…); set C360_PHONE_REGION to give national numbers.',
    );
    expect(refused('phone', '085 123 4567')).toMatch(/is not a valid international phone number/);
    expect(refused('phone', '12', 'IE')).toBe('--phone "12" is not a valid phone number in IE or in international form.');
    expect(refused('phone', '+1234')).toMatch(/not a valid international phone number/);
    for (const email of ['ann@', '@example.com', 'ann example.com', 'ann@example', `${'a'.repeat(65)}@example.com`, `a@${'b'.repeat(250)}.com`])
      expect(refused('email', email)).toMatch(/^--email ".+" is not an email address\.$/);
    expect(refused('email', `${'a'.repeat(10_000)}@example.com`)).toBe(`--email "${'a'.repeat(40)}…" is not an email address.`);
    expect(refused('customer_id', '   ')).toMatch(/is not a usable customer_id: 1 to 256 characters/);
    expect(refused('customer_id', 'x'.repeat(257))).toMatch(/is not a usable customer_id/);
    expect(refused('customer_id', 'C-1\u0000')).toMatch(/no control characters/);
  });

  it('tells an email from what only looks like one', () => {
    expect(isEmail('niamh.quigley@example.org')).toBe(true);
    expect(isEmail('C-1001')).toBe(false);
    expect(isEmail('user@localhost')).toBe(false);
  });

  it('leaves the phones of records comparable without refusing any', () => {
    expect(canonicalIdentifier('phone', '+353851234567')).toBe('+353851234567');
    expect(canonicalIdentifier('phone', '+44 (0)20 7946 0958')).toBe('+442079460958');
    expect(canonicalIdentifier('phone', 'n/a')).toBe('n/a');
  });
});
