import { describe, expect, it } from 'vitest';
import { parseIsoDate, parseIsoTimestamp } from './iso-time.js';

describe('ISO 8601, read strictly', () => {
  it.each([
    ['2024-02-29T10:00:00Z', Date.UTC(2024, 1, 29, 10)],
    ['2024-02-29 10:00', Date.UTC(2024, 1, 29, 10)],
    ['2024-02-29T10:00:00.123456Z', Date.UTC(2024, 1, 29, 10, 0, 0, 123)],
    ['2024-02-29T10:00:00+02:00', Date.UTC(2024, 1, 29, 8)],
    ['2024-02-29T10:00:00-0530', Date.UTC(2024, 1, 29, 15, 30)],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    ['0050-01-01T00:00:00Z', new Date('0050-01-01T00:00:00Z').getTime()],
    ['1969-12-31T23:59:59.999Z', -1],
  ])('%s is %d', (text, ms) => {
    expect(parseIsoTimestamp(text)).toBe(Math.round(ms));
  });

  it.each([
    '2023-02-29T00:00:00Z',
    '2024-02-30T10:00:00Z',
    '2024-04-31',
    '2024-13-01T00:00:00Z',
    '2024-00-10T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T23:60:00Z',
    '2024-01-01T23:59:60Z',
    '2024-01-01T10:00:00+24:00',
    '2024-1-1',
    '+275760-09-13T00:00:00Z',
    'yesterday',
  ])('%s is refused', (text) => {
    expect(parseIsoTimestamp(text)).toBeUndefined();
  });

  it('dates count days from the epoch and refuse days that do not exist', () => {
    expect(parseIsoDate('1970-01-02')).toBe(1);
    expect(parseIsoDate('2000-02-29')).toBe(11_016);
    expect(parseIsoDate('1900-02-29')).toBeUndefined();
    expect(parseIsoDate('2024-02-30')).toBeUndefined();
  });
});
