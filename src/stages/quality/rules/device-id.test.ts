import { describe, expect, it } from 'vitest';
import { deviceIdRule, luhnValid } from './device-id.js';

const check = deviceIdRule.create(deviceIdRule.options.parse({ typeField: 'device.id_type' }));
const ofKind = (id_type: string) => ({ record: { device: { id_type } }, now: 0 });

describe('device id rule', () => {
  it('checks the IMEI Luhn digit', () => {
    expect(luhnValid('490154203237518')).toBe(true);
    expect(check('490154203237518', ofKind('IMEI'))).toEqual({ ok: true });
    expect(check('490154203237519', ofKind('IMEI'))).toMatchObject({ ok: false, code: 'quality.device_id_invalid', message: 'IMEI check digit is wrong' });
    expect(check('49015420323751', ofKind('IMEI'))).toMatchObject({ ok: false, code: 'quality.device_id_invalid', message: 'IMEI is not 15 digits' });
  });
  it('accepts UUID advertising ids and rejects others', () => {
    expect(check('6D92078A-8246-4BA4-AE5B-76104861E7DC', ofKind('IDFA'))).toEqual({ ok: true });
    expect(check('38400000-8cf0-11bd-b23e-10b96e40000d', ofKind('GAID'))).toEqual({ ok: true });
    expect(check('not-a-uuid', ofKind('IDFV'))).toMatchObject({ ok: false, code: 'quality.device_id_invalid' });
  });
  it('treats the all-zero advertising id as an opt-out: a warning, and the id is dropped', () => {
    expect(check('00000000-0000-0000-0000-000000000000', ofKind('IDFA'))).toEqual({
      ok: false,
      code: 'quality.device_id_opt_out',
      message: 'IDFA is the opt-out value; dropped',
      severity: 'warn',
      replace: null,
    });
  });
  it('checks Android ids are 16 hex digits', () => {
    expect(check('9774d56d682e549c', ofKind('ANDROID_ID'))).toEqual({ ok: true });
    expect(check('9774d56d682e549', ofKind('ANDROID_ID'))).toMatchObject({ code: 'quality.device_id_invalid' });
    expect(check('9774d56d682e549z', ofKind('ANDROID_ID'))).toMatchObject({ code: 'quality.device_id_invalid' });
  });
});
