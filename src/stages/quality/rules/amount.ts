import { z } from 'zod';
import { defineRule, fail, OK } from '../rule.js';

export const amountRule = defineRule({
  name: 'amount',
  description: 'An amount (a decimal string or a number) that is zero or more.',
  options: z.object({}).strict().default({}),
  create: () => (value) => {
    const negative = typeof value === 'string' ? value.trim().startsWith('-') && /[1-9]/.test(value) : typeof value === 'number' && value < 0;
    return negative ? fail('quality.amount_negative', 'below zero') : OK;
  },
});
