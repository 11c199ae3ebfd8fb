import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { z } from 'zod';
import { readPath } from '../../../schema/field-path.js';
import { defineRule, fail } from '../rule.js';

export const phoneRule = defineRule({
  name: 'phone',
  description: "A valid phone number, normalised to E.164 (libphonenumber-js); a national number is read in the record's country.",
  options: z
    .object({
      countryField: z.string().optional().describe("dotted path of the record's ISO country, the default region for national numbers"),
      defaultCountry: z.string().length(2).optional().describe('ISO country for national numbers when the record has none'),
    })
    .strict()
    .default({}),
  create: (options) => (value, ctx) => {
    if (typeof value !== 'string') return fail('quality.phone_invalid', 'not a string');
    const fromRecord = options.countryField ? readPath(ctx.record, options.countryField) : undefined;
    const country = (typeof fromRecord === 'string' ? fromRecord.toUpperCase() : options.defaultCountry) as CountryCode | undefined;
    const parsed = parsePhoneNumberFromString(value, country ? { defaultCountry: country } : undefined);
    if (!parsed?.isValid())
      return fail('quality.phone_invalid', country ? `not a valid phone number for ${country}` : 'not a valid international phone number');
    return { ok: true, value: parsed.number };
  },
});
