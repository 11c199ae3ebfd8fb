import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { QualityRule } from '../rule.js';
import { compareRule, lengthRule, notNullRule, oneOfRule, patternRule, rangeRule, referenceListRule } from './declarative.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-reference-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const stores = path.join(dir, 'stores.txt');
fs.writeFileSync(stores, '# open stores\nS-001\nS-002\n\n  S-003  \n');

const checkOf = (rule: QualityRule, options: unknown) => rule.create(rule.options.parse(options));
const ctx = (record: Record<string, unknown> = {}) => ({ record, now: Date.now() });
const code = (rule: QualityRule, options: unknown, value: unknown, record?: Record<string, unknown>) => {
  const outcome = checkOf(rule, options)(value, ctx(record));
  return outcome.ok ? 'ok' : outcome.code;
};

// Each rule fires on its case and stays quiet on the control beside it.
describe.each([
  ['not_null', notNullRule as QualityRule, {}, ['x', 0, false, []], [undefined, null, '', '   '], 'quality.required_missing'],
  ['not_null allowing blanks', notNullRule as QualityRule, { allowBlank: true }, ['', ' '], [null], 'quality.required_missing'],
  ['pattern', patternRule as QualityRule, { regex: '^ORD-\\d{6}$' }, ['ORD-000123'], ['ORD-12', 'ord-000123', 42, 'ORD-000123\n'], 'quality.pattern_mismatch'],
  ['pattern, either case', patternRule as QualityRule, { regex: '^ord-\\d+$', ignoreCase: true }, ['ORD-1'], ['ORD-'], 'quality.pattern_mismatch'],
  ['one_of', oneOfRule as QualityRule, { values: ['GOLD', 'SILVER'] }, ['GOLD'], ['gold', 'BRONZE', null, 1], 'quality.not_allowed'],
  ['one_of, either case', oneOfRule as QualityRule, { values: ['GOLD'], ignoreCase: true }, ['gold', 'Gold'], ['platinum'], 'quality.not_allowed'],
  ['range', rangeRule as QualityRule, { min: 0, max: 100 }, [0, 100, 55.5, '99.99', 10n], [-0.01, 100.5, '1e3', 'many', Number.NaN], 'quality.out_of_range'],
  ['range, exclusive', rangeRule as QualityRule, { min: 0, exclusiveMin: true }, [0.001], [0, -1], 'quality.out_of_range'],
  ['length', lengthRule as QualityRule, { min: 2, max: 5 }, ['ab', 'abcde', 'ééééé', [1, 2]], ['a', 'abcdef', [1], 7], 'quality.length_out_of_range'],
  [
    'reference_list',
    referenceListRule as QualityRule,
    { file: stores },
    ['S-001', 'S-003', ' S-002 '],
    ['S-004', 's-001', '# open stores', null],
    'quality.not_in_reference',
  ],
  ['reference_list, either case', referenceListRule as QualityRule, { file: stores, ignoreCase: true }, ['s-001'], ['s-009'], 'quality.not_in_reference'],
])('%s', (_name, rule, options, passing, failing, failure) => {
  const shown = (v: unknown) => (typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v)));
  it.each(passing.map((v) => [shown(v), v]))('passes %s', (_shown, value) => expect(code(rule, options, value)).toBe('ok'));
  it.each(failing.map((v) => [shown(v), v]))('fails %s', (_shown, value) => expect(code(rule, options, value)).toBe(failure));
});

describe('compare', () => {
  it('orders numbers by value and ISO instants as text, and skips a record without the other field', () => {
    const before = { field: 'ends_at', op: 'lt' };
    expect(code(compareRule as QualityRule, before, '2026-01-01T10:00:00Z', { ends_at: '2026-01-01T11:00:00Z' })).toBe('ok');
    expect(code(compareRule as QualityRule, before, '2026-01-01T12:00:00Z', { ends_at: '2026-01-01T11:00:00Z' })).toBe('quality.fields_disagree');
    expect(code(compareRule as QualityRule, before, '2026-01-01T11:00:00Z', { ends_at: '2026-01-01T11:00:00Z' })).toBe('quality.fields_disagree');
    expect(code(compareRule as QualityRule, { field: 'total', op: 'le' }, '9.50', { total: 10 })).toBe('ok');
    expect(code(compareRule as QualityRule, { field: 'total', op: 'le' }, 10.5, { total: '10.00' })).toBe('quality.fields_disagree');
    expect(code(compareRule as QualityRule, { field: 'a.b', op: 'eq' }, 'x', { a: { b: 'x' } })).toBe('ok');
    expect(code(compareRule as QualityRule, before, 'x', {})).toBe('ok');
    expect(code(compareRule as QualityRule, before, true, { ends_at: 'x' })).toBe('quality.fields_disagree');
  });
});

describe('declarative rule options', () => {
  const refused = (rule: QualityRule, options: unknown) => {
    const parsed = rule.options.safeParse(options);
    return parsed.success ? 'accepted' : parsed.error.issues.map((i) => i.message).join('; ');
  };

  it('refuses what cannot work, each in a sentence', () => {
    expect(refused(patternRule as QualityRule, { regex: '([a-z' })).toBe('is not a valid regular expression');
    expect(refused(patternRule as QualityRule, { regex: '^(a+)+$' })).toBe(
      'nests a quantifier inside a quantified group, which can take exponential time on a crafted value',
    );
    expect(refused(patternRule as QualityRule, { regex: '^(\\w*\\s?)*$' })).toMatch(/^nests a quantifier/);
    expect(refused(patternRule as QualityRule, { regex: '^(ab)+c*\\d{2,4}$' })).toBe('accepted');
    expect(refused(rangeRule as QualityRule, {})).toBe('needs min, max or both');
    expect(refused(rangeRule as QualityRule, { min: 5, max: 1 })).toBe('has min above max');
    expect(refused(lengthRule as QualityRule, { min: -1 })).toMatch(/>=0/);
    expect(refused(oneOfRule as QualityRule, { values: [] })).toMatch(/>=1 items/);
    expect(refused(referenceListRule as QualityRule, { file: path.join(dir, 'missing.txt') })).toBe('is not a readable file');
    expect(refused(compareRule as QualityRule, { field: 'ends_at', op: 'before' })).toMatch(/"lt"/);
  });
});
