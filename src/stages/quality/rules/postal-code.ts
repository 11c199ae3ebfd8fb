import validator from 'validator';
import { z } from 'zod';
import { readPath } from '../../../schema/field-path.js';
import { defineRule, fail, OK } from '../rule.js';

const KNOWN = new Set<string>(validator.isPostalCodeLocales);

export const postalCodeRule = defineRule({
  name: 'postal_code',
  description: "A postal code valid for the record's country (validator's isPostalCode: about 60 countries; others pass unchecked).",
  options: z
    .object({
      countryField: z.string().describe("dotted path of the record's ISO country, whose postal format applies"),
      defaultCountry: z.string().length(2).optional().describe('ISO country when the record has none'),
    })
    .strict(),
  create: (options) => (value, ctx) => {
    if (typeof value !== 'string') return fail('quality.postal_code_invalid', 'not a string');
    const fromRecord = readPath(ctx.record, options.countryField);
    const country = typeof fromRecord === 'string' ? fromRecord.trim().toUpperCase() : options.defaultCountry;
    if (!country || !KNOWN.has(country)) return OK;
    return validator.isPostalCode(value.trim(), country as validator.PostalCodeLocale)
      ? OK
      : fail('quality.postal_code_invalid', `not a valid postal code for ${country}`);
  },
});
