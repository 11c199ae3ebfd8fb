import { describe, expect, it } from 'vitest';
import { amountRule } from './amount.js';
import { currencyRule } from './currency.js';

const ctx = { record: {}, now: 0 };

describe('currency rule', () => {
  const check = currencyRule.create(currencyRule.options.parse(undefined));
  it.each(['EUR', 'USD', 'JPY', 'GBP'])('accepts %s', (c) => expect(check(c, ctx)).toEqual({ ok: true, value: c }));
  it('upper-cases a lower-case code', () => expect(check('eur', ctx)).toEqual({ ok: true, value: 'EUR' }));
  it.each(['EURO', 'XYZ', '', 'E R'])('rejects %s', (c) => expect(check(c, ctx)).toMatchObject({ code: 'quality.currency_invalid' }));
});

describe('amount rule', () => {
  const check = amountRule.create(amountRule.options.parse(undefined));
  it.each(['0.00', '12.50', '-0.00', 0, 3.5])('accepts %s', (a) => expect(check(a, ctx)).toEqual({ ok: true }));
  it.each(['-0.01', '-12.50', -1])('rejects %s', (a) => expect(check(a, ctx)).toMatchObject({ code: 'quality.amount_negative' }));
});
