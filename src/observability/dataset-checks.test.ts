import { describe, expect, it } from 'vitest';
import type { EventProfile, LedgerEntry } from '../contracts/ledger.js';
import { failures, LedgerHistory } from './dataset-checks.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-12-07T10:20:00Z');
/** The hour the checks look at: the last complete one. */
const CHECKED = Date.parse('2026-12-07T09:00:00Z');

function entry(source: string, at: number, n: number, deadLetter = 0, errors: Record<string, number> = {}): LedgerEntry {
  return {
    source,
    topic: `c360.ingest.${source}`,
    partition: 0,
    first_offset: 0,
    last_offset: n - 1,
    in: n,
    raw: n - deadLetter,
    duplicates: 0,
    dead_letter: deadLetter,
    suppressed: 0,
    near_duplicates: 0,
    errors,
    committed_at: new Date(at + 17 * 60_000).toISOString(),
  };
}

/** Five weeks of hourly batches: steady traffic with a day-night pattern, 2 % of it dead-lettered for one known code. */
function history(sources: Record<string, (hourStart: number) => LedgerEntry[]>, days = 35): LedgerHistory {
  const h = new LedgerHistory();
  for (let t = CHECKED - days * 24 * HOUR; t <= CHECKED; t += HOUR) for (const [, make] of Object.entries(sources)) for (const e of make(t)) h.add(e);
  return h;
}
const typical = (t: number) => (new Date(t).getUTCHours() < 7 ? 100 : 1000) + ((t / HOUR) % 7) * 5;
const steady = (source: string) => (t: number) => {
  const n = typical(t);
  return [entry(source, t, n, Math.round(n * 0.02), { 'quality.email_invalid': Math.round(n * 0.02) })];
};

describe('dataset checks', () => {
  const verdicts = history({
    steady: steady('steady'),
    quiet: (t) => (t === CHECKED ? [] : steady('quiet')(t)),
    halved: (t) => (t === CHECKED ? [entry('halved', t, Math.round(typical(t) / 2))] : steady('halved')(t)),
    drifting: (t) =>
      t === CHECKED ? [entry('drifting', t, typical(t), 40, { 'quality.email_invalid': 20, 'plan.unexpected_property': 20 })] : steady('drifting')(t),
    rejecting: (t) =>
      t === CHECKED ? [entry('rejecting', t, typical(t), Math.round(typical(t) * 0.2), { 'quality.email_invalid': 1 })] : steady('rejecting')(t),
  }).evaluate(NOW);
  const failing = (source: string) =>
    verdicts
      .find((v) => v.source === source)!
      .checks.filter((c) => c.failing)
      .map((c) => c.check);

  it('checks the last complete hour against the same hour of the four weeks before', () => {
    expect(verdicts.map((v) => [v.source, v.hour, v.learning])).toEqual(
      ['drifting', 'halved', 'quiet', 'rejecting', 'steady'].map((s) => [s, '2026-12-07T09:00:00.000Z', false]),
    );
  });

  it('stays quiet on a steady source', () => expect(failing('steady')).toEqual([]));
  it('fires on a source that went quiet', () => expect(failing('quiet')).toEqual(['silent']));
  it('fires on a source whose volume halved', () => expect(failing('halved')).toEqual(['volume_low']));
  it('fires on a source that drifts: a code its records never had', () => {
    expect(failing('drifting')).toEqual(['new_code']);
    expect(verdicts.find((v) => v.source === 'drifting')!.checks.find((c) => c.check === 'new_code')!.detail).toBe(
      'codes not seen in four weeks: plan.unexpected_property',
    );
  });
  it('fires on a source whose dead-lettered share jumped', () => expect(failing('rejecting')).toEqual(['quarantine_share']));

  it('fires on a burst, and leaves a quiet night alone', () => {
    const night = Date.parse('2026-12-07T03:20:00Z');
    const h = history({ burst: (t) => (t === CHECKED ? [entry('burst', t, 5000)] : steady('burst')(t)) });
    expect(
      h
        .evaluate(NOW)[0]!
        .checks.filter((c) => c.failing)
        .map((c) => c.check),
    ).toEqual(['volume_high']);
    // 02:00 has 100-odd records every week: the same now is not low.
    expect(
      history({ s: steady('s') })
        .evaluate(night)[0]!
        .checks.filter((c) => c.failing),
    ).toEqual([]);
  });

  it('gives a source with less than a week of history no verdict, while it learns', () => {
    const young = history({ young: steady('young') }, 5).evaluate(NOW)[0]!;
    expect([young.learning, young.checks]).toEqual([true, []]);
  });

  it('forgets hours it no longer needs', () => {
    const h = history({ s: steady('s') });
    expect(h.evaluate(NOW)[0]!.records).toBeGreaterThan(0);
    // A month on, only the four weeks and a bit before then are kept: today's hour is gone.
    h.prune(NOW + 30 * 24 * HOUR);
    expect(h.evaluate(NOW)[0]!.records).toBe(0);
  });
});

describe('dataset checks per event', () => {
  /** A shop's events in an hour: orders with three properties, of which 2 % lack an email; page views. */
  const shop = (t: number, change: { orders?: Partial<EventProfile>; views?: number; extra?: Record<string, EventProfile> } = {}): LedgerEntry => {
    const n = typical(t);
    const orders: EventProfile = {
      records: n,
      nulls: { email: Math.round(n * 0.02) },
      properties: { 'properties.order_id': n, 'properties.total': n, 'properties.currency': n },
      ...change.orders,
    };
    const views: EventProfile = { records: change.views ?? n, nulls: {}, properties: {} };
    return { ...entry('shop', t, orders.records + views.records), events: { 'Order Completed': orders, BehavioralEvent: views, ...change.extra } };
  };
  const failingIn = (change: Parameters<typeof shop>[1]) => {
    const [v] = history({ shop: (t) => [shop(t, t === CHECKED ? change : {})] }).evaluate(NOW);
    return failures(v!).map((c) => `${c.event ?? ''}:${c.check}`);
  };
  const n = typical(CHECKED);

  it('stays quiet on steady events', () => expect(failingIn({})).toEqual([]));
  it('fires on a field null far more often than before', () => {
    expect(failingIn({ orders: { nulls: { email: Math.round(n * 0.4) } } })).toEqual(['Order Completed:null_share']);
    const [v] = history({ shop: (t) => [shop(t, t === CHECKED ? { orders: { nulls: { email: Math.round(n * 0.4) } } } : {})] }).evaluate(NOW);
    expect(failures(v!)[0]!.detail).toBe('email null in 40.0 %, at most 2.0 % before');
  });
  it('fires on a property the event never carried, plan or no plan', () =>
    expect(
      failingIn({ orders: { properties: { 'properties.order_id': n, 'properties.total': n, 'properties.currency': n, 'properties.coupon': 3 } } }),
    ).toEqual(['Order Completed:new_property']));
  it('fires on a property the event always carried and no longer does', () =>
    expect(failingIn({ orders: { properties: { 'properties.order_id': n, 'properties.total': n } } })).toEqual(['Order Completed:vanished_property']));
  it('fires on an event never seen before', () =>
    expect(failingIn({ extra: { 'Refund Issued': { records: 5, nulls: {}, properties: {} } } })).toEqual(['Refund Issued:new_event']));
  it("fires on one event's volume while the source's stays within range", () => {
    expect(failingIn({ views: Math.round(n * 0.5) })).toEqual(['BehavioralEvent:volume_low']);
    expect(failingIn({ views: 0 })).toEqual([':volume_low', 'BehavioralEvent:silent']);
  });
});
