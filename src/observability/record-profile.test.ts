// What the decode stage observes of each record for the dataset checks, and what the router sums
// into the batch's ledger entry: events, null fields and property names, never a value.
import { describe, expect, it } from 'vitest';
import { crmProfile, variant, webEvent } from '../../test/fixtures/records.js';
import { envelopeOf, NOW, offlineContext } from '../../test/support/stages.js';
import { topicNames } from '../contracts/topic-names.js';
import { loadSchema } from '../schema/avro.js';
import { decodeStage } from '../stages/decode.js';
import { route } from '../topology/router.js';
import { EventProfiles, OTHER, safeName } from './record-profile.js';

const ctx = offlineContext();
const decode = decodeStage.create(ctx);
const control = { heartbeat: async () => undefined, isRunning: () => true };

async function decoded(source: string, records: object[]) {
  const batch = records.map((r) => envelopeOf(ctx.entities.get(source)!, JSON.stringify(r)));
  await decode.process(batch, control);
  return batch;
}

describe('the dataset profile of records', () => {
  it('observes a record as it arrives: its event, its null fields and its properties', async () => {
    const [page, order] = await decoded('web', [
      webEvent,
      variant(webEvent, { event_id: 'ev-2', event_type: 'TRACK', event_name: 'Order Completed', properties: { order_id: 'ORD-1', total: '20' } }),
    ]);
    // No event name (a page view): the entity's name.
    expect(page!.observed!.event).toBe('BehavioralEvent');
    expect(page!.observed!.properties).toEqual(['properties.campaign']);
    expect(order!.observed).toMatchObject({ event: 'Order Completed', properties: ['properties.order_id', 'properties.total'] });
    // The web fixture has no email, no anonymous id and no user agent; fields inside arrays are left out.
    expect(order!.observed!.nulls).toEqual(expect.arrayContaining(['email', 'anonymous_id', 'device.user_agent']));
    expect(order!.observed!.nulls).not.toContain('customer_id');
    const [crm] = await decoded('crm', [crmProfile]);
    expect(crm!.observed).toEqual({ event: 'CustomerProfile', nulls: ['address.line2'], properties: [] });
  });

  it('sums a batch into its ledger entry by event, and leaves out records that did not decode', async () => {
    const batch = await decoded('web', [
      webEvent,
      variant(webEvent, { event_id: 'ev-2', email: 'ann@example.com' }),
      variant(webEvent, { event_id: 'ev-3', event_name: 'Signed Up', properties: { method: 'email' } }),
    ]);
    const broken = envelopeOf(ctx.entities.get('web')!, '{"event_id": ');
    await decode.process([broken], control);
    const { ledger } = route(
      {
        topologyName: 'customer360',
        topics: topicNames('unit'),
        rawSchemaIds: new Map([['web', 12]]),
        deadLetter: { id: 21, ...loadSchema('DeadLetter'), maxMessageBytes: 1_048_588 },
        nearDuplicate: { id: 22, type: loadSchema('NearDuplicate').type },
        now: () => NOW,
      },
      [...batch, broken],
    );
    expect(ledger!.in).toBe(4);
    expect(Object.keys(ledger!.events!)).toEqual(['BehavioralEvent', 'Signed Up']);
    expect(ledger!.events!.BehavioralEvent).toMatchObject({ records: 2, properties: { 'properties.campaign': 2 } });
    expect(ledger!.events!.BehavioralEvent!.nulls.email).toBe(1);
    expect(ledger!.events!['Signed Up']).toMatchObject({ records: 1, properties: { 'properties.method': 1 } });
    expect(ledger!.events!['Signed Up']!.nulls.email).toBe(1);
    // Names only: no value of any record is in the entry.
    expect(JSON.stringify(ledger)).not.toMatch(/ann@example|winter|C-1001/);
  });

  it('keeps names a person could be found by out of the ledger', async () => {
    expect(['Order Completed', 'order_id', 'page:home', 'utm/source'].map(safeName)).toEqual(['Order Completed', 'order_id', 'page:home', 'utm/source']);
    expect(['ann@example.com', 'Email sent to 0861234567', 'x'.repeat(65), 'a\nb', ''].map(safeName)).toEqual(Array(5).fill(OTHER));
    const [e] = await decoded('web', [
      variant(webEvent, { event_name: 'Reset for ann@example.com', properties: { 'ann@example.com': 'yes', 'Ann Lee': 'x', ok: '1' } }),
    ]);
    expect(e!.observed).toMatchObject({ event: OTHER, properties: [`properties.${OTHER}`, `properties.${OTHER}`, 'properties.ok'] });
  });

  it('reads ledger entries it did not write without taking their garbage for counts', () => {
    const p = new EventProfiles();
    p.add({
      ok: { records: 3, nulls: { email: 1, bad: 'x' }, properties: 'nope' },
      junk: 'x',
      neg: { records: -1 },
      'ann@example.com': { records: 1 },
    } as never);
    p.add('not an object' as never);
    expect(p.toJSON()).toEqual({ ok: { records: 3, nulls: { email: 1 }, properties: {} }, [OTHER]: { records: 1, nulls: {}, properties: {} } });
  });

  it('counts events past the hundredth and properties past the two hundredth as (other)', () => {
    const p = new EventProfiles();
    for (let i = 0; i < 150; i++) p.observe({ event: `Event ${i}`, nulls: [], properties: [] });
    const many = Array.from({ length: 250 }, (_, i) => `properties.p${i}`);
    p.observe({ event: 'Event 0', nulls: ['email'], properties: many });
    const json = p.toJSON();
    expect(Object.keys(json)).toHaveLength(101);
    expect(json[OTHER]!.records).toBe(50);
    expect(Object.keys(json['Event 0']!.properties)).toHaveLength(201);
    expect(json['Event 0']!.properties[`properties.${OTHER}`]).toBe(50);
    expect(json['Event 0']).toMatchObject({ records: 2, nulls: { email: 1 } });
  });
});
