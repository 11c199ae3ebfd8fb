import validator from 'validator';
import { z } from 'zod';
import { defineRule, fail, OK } from '../rule.js';

export const emailRule = defineRule({
  name: 'email',
  description: "Email syntax within RFC 5321 limits (validator's isEmail: 64-octet local part, 254-octet address, a TLD); the domain is lower-cased.",
  options: z
    .object({ allowUtf8LocalPart: z.boolean().default(true).describe('accept non-ASCII letters before the @ (RFC 6531)') })
    .strict()
    .default({ allowUtf8LocalPart: true }),
  create: (options) => (value) => {
    if (typeof value !== 'string') return fail('quality.email_invalid', 'not a string');
    const email = value.trim();
    const at = email.lastIndexOf('@');
    if (at <= 0) return fail('quality.email_invalid', 'no local part or no @');
    if (
      !validator.isEmail(email, { allow_utf8_local_part: options.allowUtf8LocalPart, require_tld: true, allow_ip_domain: false, allow_display_name: false })
    ) {
      return fail('quality.email_invalid', 'not a valid email address');
    }
    const normalised = `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}`;
    return normalised === value ? OK : { ok: true, value: normalised };
  },
});
