// The Segment-spec mapping for what RudderStack's SDKs send differently: consent from its consent
// manager, its session, an identify's traits in context.traits; and the connection's user agent
// for a call whose SDK does not say it.
import { describe, expect, it } from 'vitest';
import { fromSegment } from './segment.js';

const RECEIVED = Date.parse('2026-12-01T10:00:00.000Z');
const connection = { ip: '203.0.113.9', userAgent: 'analytics-kotlin/1.27.0', anonymous: false };
const call = (extra: Record<string, unknown>) => ({ messageId: 'm-1', anonymousId: 'a-1', originalTimestamp: '2026-12-01T09:59:59.000Z', ...extra });
const mapped = (type: 'track' | 'identify', event: Record<string, unknown>) => {
  const m = fromSegment(call(event), type, RECEIVED, {}, connection);
  if ('problem' in m) throw new Error(m.problem);
  return m.value;
};

describe('the Segment-spec mapping of RudderStack calls', () => {
  it("takes consent from RudderStack's consent manager: allowed ids granted, denied ids denied", () => {
    const consent = (consentManagement: unknown) => mapped('track', { event: 'x', context: { consentManagement } }).consent;
    expect(consent({ provider: 'custom', allowedConsentIds: ['Analytics'], deniedConsentIds: ['Ads'] })).toEqual({ Analytics: true, Ads: false });
    expect(consent({ provider: 'oneTrust', allowedConsentIds: [{ consent: 'C0001' }], deniedConsentIds: [] })).toEqual({ C0001: true });
    expect(consent({ allowedConsentIds: [], deniedConsentIds: [] })).toBeNull();
    const refused = fromSegment(call({ event: 'x', context: { consentManagement: { allowedConsentIds: 'all' } } }), 'track', RECEIVED, {}, connection);
    expect(refused).toEqual({ problem: 'context.consentManagement: allowedConsentIds and deniedConsentIds must be arrays of consent ids' });
  });

  it("keeps RudderStack's session and an identify's traits from context.traits; a call without a user agent gets the connection's", () => {
    const identify = mapped('identify', { userId: 'C-1', context: { sessionId: 1764583199000, traits: { plan: 'gold', email: 'a@example.com' } } });
    expect(identify).toMatchObject({ session_id: '1764583199000', traits: { plan: 'gold', email: 'a@example.com' }, email: 'a@example.com' });
    expect(identify.device).toMatchObject({ platform: null, user_agent: 'analytics-kotlin/1.27.0' });
    expect(mapped('track', { event: 'x', context: { userAgent: 'Mozilla/5.0' } }).device).toMatchObject({ platform: 'web', user_agent: 'Mozilla/5.0' });
  });

  it('refuses a context field that is no scalar rather than dropping it', () => {
    for (const [field, value, kind] of [
      ['sessionId', { id: 1 }, 'an object'],
      ['locale', ['en'], 'an array'],
      ['userAgent', true, 'a boolean'],
      ['ip', {}, 'an object'],
    ] as const)
      expect(fromSegment(call({ event: 'x', context: { [field]: value } }), 'track', RECEIVED, {}, connection)).toEqual({
        problem: `context.${field} must be a string or a number, not ${kind}`,
      });
  });

  it("keeps a timestamp at the edge of a Date's range as it came, rather than failing to correct it", () => {
    const m = fromSegment(
      call({ event: 'x', timestamp: '+275760-09-12T23:59:59.995Z', sentAt: '2026-12-01T09:59:00.000Z' }),
      'track',
      RECEIVED,
      {},
      connection,
    );
    expect(m).toMatchObject({ value: { occurred_at: '+275760-09-12T23:59:59.995Z' } });
  });
});
