/**
 * Rules a data steward writes in the topology instead of code (Deequ's and Great Expectations'
 * constraints): not_null, pattern, one_of, range, length, compare (between two fields of the
 * record) and reference_list (values from a file). Their options are checked when the topology
 * loads, with one sentence per mistake; the semantic rules (email, phone, country…) stay beside them.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { readPath } from '../../../schema/field-path.js';
import { defineRule, fail, OK } from '../rule.js';

/** Whether `attempt` returns something truthy without throwing: an option that can be used. */
function succeeds(attempt: () => unknown): boolean {
  try {
    return Boolean(attempt());
  } catch {
    return false;
  }
}

/** Text as a person counts it (code points), and lists by their items. */
const sizeOf = (value: unknown): number | undefined => (typeof value === 'string' ? [...value].length : Array.isArray(value) ? value.length : undefined);

/** A number, whatever the field's type holds it as: a number, a bigint, or decimal text. */
function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return undefined;
}

export const notNullRule = defineRule({
  name: 'not_null',
  description: 'The field is present, not null, and (text) not blank: what a contract leaves optional, a source may require.',
  options: z
    .object({ allowBlank: z.boolean().default(false).describe('accept text that is empty or only spaces') })
    .strict()
    .default({ allowBlank: false }),
  checksAbsent: true,
  create: (options) => (value) => {
    if (value === undefined || value === null) return fail('quality.required_missing', 'absent or null');
    if (!options.allowBlank && typeof value === 'string' && value.trim() === '') return fail('quality.required_missing', 'blank');
    return OK;
  },
});

/**
 * A quantified group that holds a quantifier itself, as in (a+)+ or (\w*)*: such a pattern can take
 * exponential time on a crafted value (ReDoS), and one record would stall its partition.
 */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*](?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,\d*\})/;

export const patternRule = defineRule({
  name: 'pattern',
  description: 'Text that matches a regular expression (JavaScript syntax; anchor it with ^ and $ to match the whole value).',
  options: z
    .object({
      regex: z
        .string()
        .min(1)
        .refine((r) => succeeds(() => new RegExp(r, 'u')), 'is not a valid regular expression')
        .refine((r) => !NESTED_QUANTIFIER.test(r), 'nests a quantifier inside a quantified group, which can take exponential time on a crafted value')
        .describe('the regular expression'),
      ignoreCase: z.boolean().default(false).describe('match letters in either case'),
    })
    .strict(),
  create: (options) => {
    const regex = new RegExp(options.regex, options.ignoreCase ? 'iu' : 'u');
    return (value) => {
      if (typeof value !== 'string') return fail('quality.pattern_mismatch', 'not text');
      return regex.test(value) ? OK : fail('quality.pattern_mismatch', `does not match ${options.regex}`);
    };
  },
});

export const oneOfRule = defineRule({
  name: 'one_of',
  description: 'A value from a fixed list (text, numbers or booleans), for fields whose contract type is wider than what the source may send.',
  options: z
    .object({
      values: z
        .array(z.union([z.string(), z.number(), z.boolean()]))
        .min(1)
        .describe('the values allowed'),
      ignoreCase: z.boolean().default(false).describe('compare text in either case'),
    })
    .strict(),
  create: (options) => {
    const fold = (v: unknown) => (options.ignoreCase && typeof v === 'string' ? v.toLowerCase() : v);
    const allowed = new Set(options.values.map(fold));
    return (value) => (allowed.has(fold(value)) ? OK : fail('quality.not_allowed', `not one of the ${allowed.size} values allowed`));
  },
});

export const rangeRule = defineRule({
  name: 'range',
  description: 'A number (or decimal text) within bounds: at least min, at most max; exclusive bounds with exclusiveMin / exclusiveMax.',
  options: z
    .object({
      min: z.number().optional().describe('the lowest value allowed'),
      max: z.number().optional().describe('the highest value allowed'),
      exclusiveMin: z.boolean().default(false).describe('min itself is not allowed'),
      exclusiveMax: z.boolean().default(false).describe('max itself is not allowed'),
    })
    .strict()
    .refine((o) => o.min !== undefined || o.max !== undefined, 'needs min, max or both')
    .refine((o) => o.min === undefined || o.max === undefined || o.min <= o.max, 'has min above max'),
  create: (o) => (value) => {
    const n = numberOf(value);
    if (n === undefined) return fail('quality.out_of_range', 'not a number');
    const below = o.min !== undefined && (o.exclusiveMin ? n <= o.min : n < o.min);
    const above = o.max !== undefined && (o.exclusiveMax ? n >= o.max : n > o.max);
    return below || above
      ? fail('quality.out_of_range', `outside ${o.exclusiveMin ? '(' : '['}${o.min ?? '-∞'}, ${o.max ?? '∞'}${o.exclusiveMax ? ')' : ']'}`)
      : OK;
  },
});

export const lengthRule = defineRule({
  name: 'length',
  description: 'Text (counted in characters) or a list (counted in items) of at least min and at most max.',
  options: z
    .object({
      min: z.number().int().min(0).optional().describe('the fewest characters or items'),
      max: z.number().int().min(0).optional().describe('the most characters or items'),
    })
    .strict()
    .refine((o) => o.min !== undefined || o.max !== undefined, 'needs min, max or both')
    .refine((o) => o.min === undefined || o.max === undefined || o.min <= o.max, 'has min above max'),
  create: (o) => (value) => {
    const n = sizeOf(value);
    if (n === undefined) return fail('quality.length_out_of_range', 'neither text nor a list');
    return (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)
      ? fail('quality.length_out_of_range', `${n} long, outside ${o.min ?? 0}..${o.max ?? '∞'}`)
      : OK;
  },
});

const OPS = {
  lt: (c: number) => c < 0,
  le: (c: number) => c <= 0,
  eq: (c: number) => c === 0,
  ne: (c: number) => c !== 0,
  ge: (c: number) => c >= 0,
  gt: (c: number) => c > 0,
};

export const compareRule = defineRule({
  name: 'compare',
  description:
    'This field against another of the record (e.g. a start before its end): numbers by value, text (ISO dates and times included) by its order; skipped when the other field is absent.',
  options: z
    .object({
      field: z.string().min(1).describe('dotted path of the other field'),
      op: z.enum(['lt', 'le', 'eq', 'ne', 'ge', 'gt']).describe('this field is lt, le, eq, ne, ge or gt the other'),
    })
    .strict(),
  create: (o) => (value, ctx) => {
    const other = readPath(ctx.record, o.field);
    if (other === undefined || other === null) return OK;
    const [a, b] = [numberOf(value), numberOf(other)];
    let order: number;
    if (a !== undefined && b !== undefined) order = Math.sign(a - b);
    else if (typeof value === 'string' && typeof other === 'string') order = value < other ? -1 : value > other ? 1 : 0;
    else return fail('quality.fields_disagree', `cannot be compared with ${o.field}`);
    return OPS[o.op](order) ? OK : fail('quality.fields_disagree', `is not ${o.op} ${o.field}`);
  },
});

/** The values of a reference file: one per line, blank lines and lines starting with # ignored. */
function referenceValues(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export const referenceListRule = defineRule({
  name: 'reference_list',
  description: 'A value listed in a reference file (store ids, SKUs, campaign codes): one value per line, # for comments; read once at start.',
  options: z
    .object({
      file: z
        .string()
        .min(1)
        .refine((f) => succeeds(() => fs.statSync(f).isFile()), 'is not a readable file')
        .describe('the reference file (relative to where c360 runs)'),
      ignoreCase: z.boolean().default(false).describe('compare in either case'),
    })
    .strict(),
  create: (o) => {
    const fold = (v: string) => (o.ignoreCase ? v.toLowerCase() : v);
    const listed = new Set(referenceValues(o.file).map(fold));
    return (value) => {
      const text = typeof value === 'number' || typeof value === 'bigint' ? String(value) : value;
      if (typeof text !== 'string') return fail('quality.not_in_reference', 'not text or a number');
      return listed.has(fold(text.trim())) ? OK : fail('quality.not_in_reference', `not in ${o.file}`);
    };
  },
});
