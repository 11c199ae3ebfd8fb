import { z } from 'zod';
import { OK, defineRule, fail } from '../rule.js';

const DAY_MS = 86_400_000;

export const timestampRule = defineRule({
  name: 'timestamp',
  description: 'A timestamp (or date) not before 1970 and not further in the future than the allowed clock skew.',
  options: z
    .object({
      maxFutureSkewMs: z.number().int().min(0).default(10 * 60_000),
      unit: z.enum(['millis', 'days']).default('millis').describe('timestamp-millis or date'),
    })
    .strict()
    .default({ maxFutureSkewMs: 10 * 60_000, unit: 'millis' }),
  create: (options) => (value, ctx) => {
    if (typeof value !== 'number') return fail('quality.timestamp_before_epoch', 'not a timestamp');
    const ms = options.unit === 'days' ? value * DAY_MS : value;
    if (ms < 0) return fail('quality.timestamp_before_epoch', 'before 1970-01-01');
    if (ms > ctx.now + options.maxFutureSkewMs) return fail('quality.timestamp_in_future', `more than ${options.maxFutureSkewMs} ms in the future`);
    return OK;
  },
});
