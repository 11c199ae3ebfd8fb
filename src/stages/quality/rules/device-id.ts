import { z } from 'zod';
import { readPath } from '../../../schema/field-path.js';
import { defineRule, fail, OK, type RuleOutcome } from '../rule.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Luhn check over all 15 digits of an IMEI (the 15th is the check digit). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function checkAdvertisingId(id: string, kind: string): RuleOutcome {
  if (!UUID.test(id)) return fail('quality.device_id_invalid', `${kind} is not a UUID`);
  // All zeros is what iOS and Android report when the user opts out of tracking: no id, not a bad record.
  if (id === ZERO_UUID)
    return { ok: false, code: 'quality.device_id_opt_out', message: `${kind} is the opt-out value; dropped`, severity: 'warn', replace: null };
  return OK;
}

export const deviceIdRule = defineRule({
  name: 'device_id',
  description:
    'A device id valid for its kind: IMEI 15 digits with a Luhn check digit; IDFA, IDFV, GAID as UUIDs (all zeros = opted out: warn, id dropped); Android ID 16 hex digits.',
  options: z.object({ typeField: z.string().describe('dotted path of the DeviceIdType field') }).strict(),
  create: (options) => (value, ctx) => {
    if (typeof value !== 'string') return fail('quality.device_id_invalid', 'not a string');
    const kind = readPath(ctx.record, options.typeField);
    const id = value.trim();
    switch (kind) {
      case 'IMEI':
        if (!/^\d{15}$/.test(id)) return fail('quality.device_id_invalid', 'IMEI is not 15 digits');
        return luhnValid(id) ? OK : fail('quality.device_id_invalid', 'IMEI check digit is wrong');
      case 'IDFA':
      case 'IDFV':
      case 'GAID':
        return checkAdvertisingId(id, kind);
      case 'ANDROID_ID':
        return /^[0-9a-f]{16}$/i.test(id) ? OK : fail('quality.device_id_invalid', 'Android ID is not 16 hex digits');
      default:
        return id.length > 0 ? OK : fail('quality.device_id_invalid', 'empty device id');
    }
  },
});
