import { iso31662 } from 'iso-3166';
import { z } from 'zod';
import { readPath } from '../../../schema/field-path.js';
import { defineRule, fail } from '../rule.js';

const PARENT = new Map(iso31662.map((s) => [s.code, s.parent]));

export const regionRule = defineRule({
  name: 'region',
  description: "An ISO 3166-2 subdivision code (e.g. IE-D, US-CA) that belongs to the record's country.",
  options: z
    .object({ countryField: z.string().optional().describe("dotted path of the record's ISO country; the region must be one of its subdivisions") })
    .strict()
    .default({}),
  create: (options) => (value, ctx) => {
    if (typeof value !== 'string') return fail('quality.region_invalid', 'not a string');
    const code = value.trim().toUpperCase();
    const parent = PARENT.get(code);
    if (!parent) return fail('quality.region_invalid', 'not an ISO 3166-2 subdivision code');
    const country = options.countryField ? readPath(ctx.record, options.countryField) : undefined;
    if (typeof country === 'string' && !parent.startsWith(country.trim().toUpperCase())) {
      return fail('quality.region_invalid', `subdivision of ${parent}, not of the record's country`);
    }
    return { ok: true, value: code };
  },
});
