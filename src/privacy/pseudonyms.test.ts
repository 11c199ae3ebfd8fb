import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { Pseudonyms, pseudonymsFrom } from './pseudonyms.js';

const key = randomBytes(32);
const p = new Pseudonyms(key);

describe('pseudonyms', () => {
  it('are stable per value and kind, and differ across values, kinds and keys', () => {
    expect(p.of('email', 'ann@example.com')).toBe(p.of('email', 'ann@example.com'));
    expect(p.of('email', 'ann@example.com')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(p.of('email', 'ann@example.com')).not.toBe(p.of('email', 'bob@example.com'));
    expect(p.of('email', 'x')).not.toBe(p.of('phone', 'x'));
    expect(new Pseudonyms(randomBytes(32)).of('email', 'ann@example.com')).not.toBe(p.of('email', 'ann@example.com'));
  });

  it('never contain the value', () => {
    expect(p.of('email', 'ann@example.com')).not.toContain('ann');
  });

  it('seal a value that only the same key opens, differently each time, 28 bytes longer', () => {
    const plain = Buffer.from('ann lee');
    const sealed = p.seal(plain);
    expect(sealed.length).toBe(plain.length + 28);
    expect(sealed.includes(plain)).toBe(false);
    expect(p.seal(plain).equals(sealed)).toBe(false);
    expect(p.open(sealed)?.toString()).toBe('ann lee');
    expect(new Pseudonyms(randomBytes(32)).open(sealed)).toBeUndefined();
    const altered = Buffer.from(sealed);
    altered[14]! ^= 1;
    expect(p.open(altered)).toBeUndefined();
    expect(p.open(sealed.subarray(0, 27))).toBeUndefined();
  });

  it('give the compact digest as the first bytes of the HMAC whose base64url the pseudonym is', () => {
    const digest = p.digest('email', 'ann@example.com', 10);
    expect(digest.length).toBe(10);
    expect(Buffer.from(p.of('email', 'ann@example.com'), 'base64url').subarray(0, 10).equals(digest)).toBe(true);
  });

  it('come from C360_PII_KEY, or say in one sentence that it is missing or too short', () => {
    const home = `/tmp/c360-no-home-${Date.now()}`;
    expect(() => pseudonymsFrom(loadConfig({ C360_HOME: home }), 'the near-duplicate stage')).toThrow(
      `C360_PII_KEY is not set (nor C360_PII_KEY_FILE, nor ${home}/secrets/pii.key): the near-duplicate stage keeps personal values only as keyed hashes and needs the secret.`,
    );
    expect(() => loadConfig({ C360_HOME: home, C360_PII_KEY: 'c2hvcnQ=' })).toThrow('C360_PII_KEY must hold at least 32 bytes, base64-encoded (got 5).');
    expect(() => loadConfig({ C360_HOME: home, C360_PII_KEY_FILE: `${home}/nope` })).toThrow(`C360_PII_KEY_FILE ${home}/nope does not exist.`);
    expect(pseudonymsFrom(loadConfig({ C360_HOME: home, C360_PII_KEY: key.toString('base64') }), 'x').of('email', 'a')).toBe(p.of('email', 'a'));
  });
});
