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

  it('seal a value that only the same key opens, differently each time', () => {
    const sealed = p.seal('ann lee');
    expect(sealed).not.toContain('ann');
    expect(p.seal('ann lee')).not.toBe(sealed);
    expect(p.open(sealed)).toBe('ann lee');
    expect(new Pseudonyms(randomBytes(32)).open(sealed)).toBeUndefined();
    expect(p.open(`${sealed.slice(0, -2)}AA`)).toBeUndefined();
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
