// Snowplow's tracker protocol mapped to the behavioural event: each kind of event, the derived
// timestamp, self-describing JSON kept with its types, consent, and every refusal's reason.
import { describe, expect, it } from 'vitest';
import { fromSnowplow, pixelParams, snowplowEvents } from './snowplow.js';

const RECEIVED = Date.parse('2026-12-01T10:00:00.000Z');
const connection = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 Chrome/140', anonymous: false };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const ue = (schema: string, data: unknown) => ({ schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0', data: { schema, data } });
const base = { aid: 'shop', eid: 'e-1', tv: 'js-4.10.1', p: 'web', duid: 'd-1', sid: 's-1', uid: 'C-1', lang: 'en-IE' };
const mapped = (params: Record<string, unknown>, conn = connection) => {
  const m = fromSnowplow({ ...base, ...params }, RECEIVED, conn);
  if ('problem' in m) throw new Error(m.problem);
  return m;
};
const problem = (params: Record<string, unknown>) => {
  const m = fromSnowplow({ ...base, ...params }, RECEIVED, connection);
  return 'problem' in m ? m.problem : undefined;
};

describe('Snowplow tracker protocol', () => {
  it('maps a page view, its time moved by the device clock skew, its campaign from the URL', () => {
    // The device clock is an hour fast: it created the event at 11:00 and sent it at 11:00:01 by its own clock.
    const m = mapped({
      e: 'pv',
      page: 'Home',
      url: 'https://shop.example/?utm_source=news&utm_campaign=winter',
      refr: 'https://x.example/',
      dtm: String(RECEIVED + 3_599_000),
      stm: String(RECEIVED + 3_600_000),
    });
    expect(m.value).toMatchObject({
      event_id: 'e-1',
      event_type: 'PAGE_VIEW',
      event_name: 'Home',
      occurred_at: '2026-12-01T09:59:59.000Z',
      customer_id: 'C-1',
      anonymous_id: 'd-1',
      session_id: 's-1',
      page_url: 'https://shop.example/?utm_source=news&utm_campaign=winter',
      referrer: 'https://x.example/',
      ip: '203.0.113.9',
      locale: 'en-IE',
      campaign: { name: 'winter', source: 'news', medium: null, term: null, content: null },
      device: { platform: 'web', user_agent: 'Mozilla/5.0 Chrome/140' },
      consent: null,
    });
    expect(m.origin).toEqual({ type: 'pv', clock_skew_ms: -3_600_000, library: 'js-4.10.1', app_id: 'shop' });
  });

  it('takes the true timestamp when the tracker sets one, and the arrival time when it sends none', () => {
    expect(mapped({ e: 'pv', ttm: String(RECEIVED - 60_000), dtm: '1', stm: '2' }).value.occurred_at).toBe('2026-12-01T09:59:00.000Z');
    expect(mapped({ e: 'pv' }).value.occurred_at).toBe('2026-12-01T10:00:00.000Z');
    // The largest times the protocol's 15 digits allow stay within what a Date holds, skew or not.
    expect(mapped({ e: 'pv', dtm: '999999999999999', stm: '0' }).value.occurred_at).toBe(new Date(999_999_999_999_999 + RECEIVED).toISOString());
    expect(mapped({ e: 'pv', dtm: '0', stm: '999999999999999' }).value.occurred_at).toMatch(/^-0\d{5}-/);
  });

  it('keeps a structured event by its action, and a self-describing one by its schema with its data and entities as JSON', () => {
    expect(mapped({ e: 'se', se_ca: 'cart', se_ac: 'add', se_la: 'sku-1', se_va: '2' }).value).toMatchObject({
      event_type: 'TRACK',
      event_name: 'add',
      properties: { category: 'cart', action: 'add', label: 'sku-1', value: '2' },
    });
    const contexts = {
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
      data: [{ schema: 'iglu:com.acme/cart/jsonschema/1-0-0', data: { items: 3 } }],
    };
    for (const params of [
      { ue_pr: JSON.stringify(ue('iglu:com.acme/step/jsonschema/1-0-0', { step: 2, express: true, coupon: 'W', tags: ['a'] })), co: JSON.stringify(contexts) },
      { ue_px: b64(ue('iglu:com.acme/step/jsonschema/1-0-0', { step: 2, express: true, coupon: 'W', tags: ['a'] })), cx: b64(contexts) },
    ]) {
      const m = mapped({ e: 'ue', ...params });
      expect(m.value).toMatchObject({ event_type: 'TRACK', event_name: 'iglu:com.acme/step/jsonschema/1-0-0' });
      expect(m.value.properties).toEqual({ step: '2', express: 'true', coupon: 'W', tags: '["a"]', '@contexts': JSON.stringify(contexts.data) });
    }
  });

  it('reads consent from a consent_preferences event, and drops the IP when the tracker asks (SP-Anonymous)', () => {
    const consent = (eventType: string) =>
      mapped({
        e: 'ue',
        ue_pr: JSON.stringify(
          ue('iglu:com.snowplowanalytics.snowplow/consent_preferences/jsonschema/1-0-0', { eventType, consentScopes: ['analytics', 'ads'] }),
        ),
      }).value.consent;
    expect(consent('allow_selected')).toEqual({ analytics: true, ads: true });
    expect(consent('deny_all')).toEqual({ analytics: false, ads: false });
    expect(consent('pending')).toBeNull();
    expect(mapped({ e: 'pv' }, { ...connection, anonymous: true }).value.ip).toBeNull();
    expect(mapped({ e: 'pv', ip: '198.51.100.1' }).value.ip).toBe('198.51.100.1');
  });

  it('refuses what it cannot take as it is, with the reason', () => {
    expect(problem({ e: 'xx' })).toBe('e must be one of pv, pp, se, ue, tr, ti');
    expect(problem({ e: 'pv', dtm: '2026-12-01T10:00:00Z' })).toBe('dtm must be milliseconds since the epoch');
    expect(problem({ e: 'pv', uid: { id: 1 } })).toBe('uid must be a string, as the tracker protocol sends every parameter');
    expect(problem({ e: 'ue' })).toBe('a ue event needs ue_pr or ue_px');
    expect(problem({ e: 'ue', ue_pr: '{' })).toBe('ue_pr is not JSON');
    expect(problem({ e: 'ue', ue_px: '%%%' })).toBe('ue_px must be base64url');
    expect(problem({ e: 'ue', ue_px: Buffer.from([0xff, 0xfe]).toString('base64url') })).toBe('ue_px must decode to UTF-8 JSON');
    expect(problem({ e: 'ue', ue_pr: JSON.stringify({ data: {} }) })).toBe('ue_pr must be a self-describing JSON: {"schema": "iglu:…", "data": …}');
    expect(problem({ e: 'ue', ue_pr: JSON.stringify(ue('iglu:com.acme/x/jsonschema/1-0-0', [1])) })).toBe("ue_pr: the event's data must be a JSON object");
    expect(problem({ e: 'pv', co: JSON.stringify({ schema: 'iglu:com.acme/x/jsonschema/1-0-0', data: [] }) })).toBe(
      'co must be a contexts envelope holding an array of entities',
    );
    expect(
      problem({
        e: 'ue',
        ue_pr: JSON.stringify(ue('iglu:com.snowplowanalytics.snowplow/consent_preferences/jsonschema/1-0-0', { eventType: 'allow_all', consentScopes: 'all' })),
      }),
    ).toBe('consent_preferences: consentScopes must be an array of strings');
    expect(problem({ e: 'ue', ue_pr: `${'['.repeat(200)}${']'.repeat(200)}` })).toMatch(/^ue_pr nests deeper than \d+ levels$/);
  });

  it('finds the events of a payload_data envelope only', () => {
    expect(snowplowEvents({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: [{ e: 'pv' }] })).toEqual([{ e: 'pv' }]);
    expect(snowplowEvents({ schema: 'iglu:com.acme/x/jsonschema/1-0-0', data: [] })).toBeUndefined();
    expect(snowplowEvents([{ e: 'pv' }])).toBeUndefined();
  });

  it("reads a pixel's query as sent: each parameter once, in UTF-8, __proto__ an ordinary name", () => {
    expect(pixelParams('/i?e=pv&page=Caf%C3%A9+bar&url=https%3A%2F%2Fx.example%2F%3Fa%3D1&empty=&flag')).toEqual({
      e: 'pv',
      page: 'Café bar',
      url: 'https://x.example/?a=1',
      empty: '',
      flag: '',
    });
    expect(pixelParams('/i')).toEqual({});
    expect(pixelParams('/i?page=%FF')).toBe('the query is not percent-encoded UTF-8');
    expect(pixelParams('/i?page=%E2%82')).toBe('the query is not percent-encoded UTF-8');
    expect(pixelParams('/i?e=pv&e=se')).toBe('the query names e more than once');
    expect(Object.keys(pixelParams('/i?__proto__=x') as object)).toEqual(['__proto__']);
  });
});
