import { z } from 'zod';
import { defineRule, fail, OK } from '../rule.js';

const DAY_MS = 86_400_000;

export const timestampRule = defineRule({
  name: 'timestamp',
  description: 'A timestamp (or date) not before 1970 (or `notBefore`, for dates of birth) and not further in the future than the allowed clock skew.',
  options: z
    .object({
      maxFutureSkewMs: z
        .number()
        .int()
        .min(0)
        .default(10 * 60_000)
        .describe('how far in the future a value may be (clock skew)'),
      unit: z.enum(['millis', 'days']).default('millis').describe('timestamp-millis or date'),
      notBefore: z.iso.date().default('1970-01-01').describe('the earliest valid date; events start in 1970, people were born before it'),
    })
    .strict()
    .default({ maxFutureSkewMs: 10 * 60_000, unit: 'millis', notBefore: '1970-01-01' }),
  create: (options) => {
    const notBefore = Date.parse(`${options.notBefore}T00:00:00Z`);
    return (value, ctx) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail('quality.timestamp_invalid', 'not a timestamp');
      const ms = options.unit === 'days' ? value * DAY_MS : value;
      if (ms < notBefore) return fail('quality.timestamp_before_epoch', `before ${options.notBefore}`);
      if (ms > ctx.now + options.maxFutureSkewMs) return fail('quality.timestamp_in_future', `more than ${options.maxFutureSkewMs} ms in the future`);
      return OK;
    };
  },
});
