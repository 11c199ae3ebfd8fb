import { describe, expect, it } from 'vitest';
import { timestampRule } from './timestamp.js';

const now = Date.UTC(2026, 10, 27);
const ctx = { record: {}, now };

describe('timestamp rule', () => {
  const check = timestampRule.create(timestampRule.options.parse({ maxFutureSkewMs: 60_000 }));
  it('accepts 1970 up to now plus the skew', () => {
    expect(check(0, ctx)).toEqual({ ok: true });
    expect(check(now + 60_000, ctx)).toEqual({ ok: true });
  });
  it('rejects before 1970 and past the skew', () => {
    expect(check(-1, ctx)).toMatchObject({ code: 'quality.timestamp_before_epoch' });
    expect(check(now + 60_001, ctx)).toMatchObject({ code: 'quality.timestamp_in_future' });
  });
  it.each(['2026-11-27', null, Number.NaN, true])('calls %j not a timestamp, not a date before 1970', (value) => {
    expect(check(value, ctx)).toMatchObject({ code: 'quality.timestamp_invalid' });
  });
  it('reads dates in days', () => {
    const dates = timestampRule.create(timestampRule.options.parse({ unit: 'days', maxFutureSkewMs: 0 }));
    expect(dates(365, ctx)).toEqual({ ok: true });
    expect(dates(-365, ctx)).toMatchObject({ code: 'quality.timestamp_before_epoch' });
    expect(dates(now / 86_400_000 + 2, ctx)).toMatchObject({ code: 'quality.timestamp_in_future' });
    // Dates of birth: before 1970 is normal, before the declared floor is not.
    const births = timestampRule.create(timestampRule.options.parse({ unit: 'days', maxFutureSkewMs: 0, notBefore: '1900-01-01' }));
    expect(births(-3650, ctx)).toEqual({ ok: true });
    expect(births(-25_568, ctx)).toMatchObject({ code: 'quality.timestamp_before_epoch', message: 'before 1900-01-01' });
    expect(() => timestampRule.options.parse({ notBefore: '1 Jan 1900' })).toThrow();
  });
});
