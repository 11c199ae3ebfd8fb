import validator from 'validator';
import { z } from 'zod';
import { defineRule, fail } from '../rule.js';

export const countryRule = defineRule({
  name: 'country',
  description: 'An ISO 3166-1 alpha-2 country code; upper-cased.',
  options: z.object({}).strict().default({}),
  create: () => (value) => {
    if (typeof value !== 'string') return fail('quality.country_invalid', 'not a string');
    const code = value.trim().toUpperCase();
    if (!validator.isISO31661Alpha2(code)) return fail('quality.country_invalid', 'not an ISO 3166-1 alpha-2 code');
    return { ok: true, value: code };
  },
});
