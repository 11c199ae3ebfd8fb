import { describe, expect, it } from 'vitest';
import { parseType } from './avro.js';
import { formatUnscaled, parseDecimal } from './decimal.js';

describe('parseDecimal (scale 2, precision 6)', () => {
  it.each([
    ['12.34', 1234n],
    ['-12.34', -1234n],
    ['+0.5', 50n],
    ['.5', 50n],
    ['7', 700n],
    ['7.', 700n],
    ['0012.30', 1230n],
    ['9999.99', 999999n],
    ['12.3400', 1234n],
    [12.34, 1234n],
    [-0.01, -1n],
    ['  3.10 ', 310n],
  ])('%j is the unscaled %s', (input, unscaled) => {
    expect(parseDecimal(input, 2, 6)).toBe(unscaled);
  });

  it.each([
    ['12.345', 'a digit beyond the scale is never rounded away'],
    [12.001, 'nor is one of a number'],
    [0.30000000000000004, 'nor the tail of a float sum'],
    [1e-7, 'a tiny number is read exactly, not as 0'],
    ['10000.00', 'seven digits exceed the precision'],
    [1e21, 'a huge number is read exactly'],
  ])('%j cannot be held exactly: %s', (input, _why) => {
    expect(parseDecimal(input, 2, 6)).toBe('out_of_range');
  });

  it.each([
    ['1e3', 'exponents are not decimals'],
    ['', 'empty'],
    ['.', 'no digits'],
    ['12,34', 'a comma is not a decimal point'],
    ['abc', 'not a number'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'infinity'],
    [true, 'a boolean'],
  ])('%j is refused: %s', (input, _why) => {
    expect(parseDecimal(input, 2, 6)).toBe('not_a_decimal');
  });
});

describe('formatUnscaled', () => {
  it.each([
    [1234n, 2, '12.34'],
    [-1n, 2, '-0.01'],
    [5n, 3, '0.005'],
    [42n, 0, '42'],
    [0n, 2, '0.00'],
  ])('%s at scale %i is %s', (unscaled, scale, text) => {
    expect(formatUnscaled(unscaled, scale)).toBe(text);
  });
});

describe('the decimal logical type', () => {
  const type = parseType({
    type: 'record',
    name: 'Money',
    fields: [{ name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } }],
  });

  it.each(['0.00', '12.34', '-12.34', '99999999.99', '-0.01'])('%s round-trips through Avro bytes unchanged', (amount) => {
    expect(type.fromBuffer(type.toBuffer({ amount }))).toEqual({ amount });
  });

  it('refuses to write a value with more digits than its scale', () => {
    expect(() => type.toBuffer({ amount: '1.234' })).toThrow(/decimal\(10,2\)/);
  });
});
