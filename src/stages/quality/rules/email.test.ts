import { describe, expect, it } from 'vitest';
import { emailRule } from './email.js';

const check = emailRule.create(emailRule.options.parse(undefined));
const ctx = { record: {}, now: Date.now() };

describe('email rule', () => {
  it.each(["o'reilly@example.ie", 'ann+newsletter@example.com', 'first.last@mail.sub.example.co.uk', 'x@example.museum', 'user_name-1@example-domain.io'])(
    'accepts %s',
    (email) => expect(check(email, ctx)).toEqual({ ok: true }),
  );

  it.each([
    ['double dots', 'ann..lee@example.com'],
    ['a trailing dot', 'ann@example.com.'],
    ['no TLD', 'ann@example'],
    ['a 65-character local part', `${'a'.repeat(65)}@example.com`],
    ['no @', 'ann.example.com'],
    ['two @', 'ann@lee@example.com'],
    ['spaces', 'ann lee@example.com'],
    ['an empty local part', '@example.com'],
    ['an IP domain', 'ann@[127.0.0.1]'],
  ])('rejects %s', (_why, email) => expect(check(email, ctx)).toMatchObject({ ok: false, code: 'quality.email_invalid' }));

  it('accepts a 64-character local part (the RFC 5321 limit)', () => {
    expect(check(`${'a'.repeat(64)}@example.com`, ctx)).toEqual({ ok: true });
  });

  it('lower-cases the domain only, and trims', () => {
    expect(check(' Ann.Lee@Example.COM ', ctx)).toEqual({ ok: true, value: 'Ann.Lee@example.com' });
  });
});
