import validator from 'validator';
import { z } from 'zod';
import { defineRule, fail } from '../rule.js';

export const currencyRule = defineRule({
  name: 'currency',
  description: 'An ISO 4217 currency code; upper-cased.',
  options: z.object({}).strict().default({}),
  create: () => (value) => {
    if (typeof value !== 'string') return fail('quality.currency_invalid', 'not a string');
    const code = value.trim().toUpperCase();
    return /^[A-Z]{3}$/.test(code) && validator.isISO4217(code) ? { ok: true, value: code } : fail('quality.currency_invalid', 'not an ISO 4217 currency code');
  },
});
