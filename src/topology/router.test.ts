import { describe, expect, it } from 'vitest';
import { crmProfile, webEvent } from '../../test/fixtures/records.js';
import { envelopeOf, NOW, offlineContext } from '../../test/support/stages.js';
import { framedSchemaId } from '../contracts/framing.js';
import { HEADER } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';
import { loadSchema } from '../schema/avro.js';
import { reject } from '../stages/envelope.js';
import { type RouterContext, route } from './router.js';

const ctx = offlineContext();
const deadLetter = loadSchema('DeadLetter');
const nearDuplicate = loadSchema('NearDuplicate');
const router: RouterContext = {
  topologyName: 'customer360',
  topics: topicNames('unit'),
  rawSchemaIds: new Map([
    ['crm', 11],
    ['web', 12],
  ]),
  deadLetter: { id: 21, ...deadLetter, maxMessageBytes: 1_048_588 },
  nearDuplicate: { id: 22, type: nearDuplicate.type },
  now: () => NOW,
};
const crm = ctx.entities.get('crm')!;

function decodedCrm(customerId: string) {
  const e = envelopeOf(crm, JSON.stringify({ ...crmProfile, customer_id: customerId }), {}, customerId);
  e.value = crm.coerceJson({ ...crmProfile, customer_id: customerId }).value as Record<string, unknown>;
  return e;
}

describe('routing', () => {
  it('sends every record to exactly one place and counts it in the ledger entry', () => {
    const landed = decodedCrm('C-1');
    const flagged = decodedCrm('C-2');
    flagged.flags.push('quality.device_id_opt_out');
    const duplicate = decodedCrm('C-3');
    duplicate.outcome = 'duplicate';
    const rejected = envelopeOf(crm, '{"customer_id":', {}, 'C-4');
    reject(rejected, 'decode', [{ code: 'decode.invalid_json', field: null, message: 'the value is not valid JSON' }]);

    const r = route(router, [landed, flagged, duplicate, rejected]);
    const byTopic = Object.fromEntries(r.topicMessages.map((t) => [t.topic, t.messages]));
    expect(Object.keys(byTopic).sort()).toEqual(['unit.dead-letter', 'unit.ledger', 'unit.raw.crm']);
    expect(byTopic['unit.raw.crm']!.map((m) => m.key)).toEqual(['C-1', 'C-2']);
    expect(byTopic['unit.dead-letter']).toHaveLength(1);
    expect(r.counts).toEqual({ in: 4, raw: 2, duplicates: 1, dead_letter: 1, suppressed: 0, near_duplicates: 0 });
    // Only what dead-lettered a record is an error; a flag on a record that landed is a warning. The ledger counts both.
    expect(r.errors).toEqual({ 'decode.invalid_json': 1 });
    expect(r.warnings).toEqual({ 'quality.device_id_opt_out': 1 });
    expect(r.ledger).toMatchObject({
      errors: { 'quality.device_id_opt_out': 1, 'decode.invalid_json': 1 },
      source: 'crm',
      topic: 'unit.ingest.crm',
      partition: 0,
      first_offset: Number(landed.message.offset),
      last_offset: Number(rejected.message.offset),
      committed_at: new Date(NOW).toISOString(),
    });
    expect(JSON.parse(String(byTopic['unit.ledger']![0]!.value))).toEqual(r.ledger);
  });

  it('writes raw records as framed Avro under the raw schema id, keyed by natural id, with lineage and flags', () => {
    const e = decodedCrm('C-9');
    e.flags.push('quality.device_id_opt_out');
    const [raw] = route(router, [e]).topicMessages.find((t) => t.topic === 'unit.raw.crm')!.messages;
    expect(framedSchemaId(raw!.value as Buffer)).toBe(11);
    expect(crm.type.fromBuffer((raw!.value as Buffer).subarray(5))).toEqual(e.value);
    expect(raw!.headers).toMatchObject({
      [HEADER.ingestId]: e.lineage.ingestId,
      [HEADER.entity]: 'CustomerProfile',
      [HEADER.qualityFlags]: 'quality.device_id_opt_out',
    });
    expect(raw!.headers![HEADER.nearDuplicate]).toBeUndefined();
  });

  it('keeps the original bytes, position and errors in the dead letter', () => {
    const e = envelopeOf(ctx.entities.get('web')!, 'not json', {}, 'ev-x');
    reject(e, 'decode', [{ code: 'decode.malformed', field: null, message: 'neither Confluent-framed Avro nor a JSON object' }]);
    const [dl] = route(router, [e]).topicMessages.find((t) => t.topic === 'unit.dead-letter')!.messages;
    const record = deadLetter.type.fromBuffer((dl!.value as Buffer).subarray(5)) as Record<string, unknown>;
    expect(record).toMatchObject({
      stage: 'decode',
      source: 'web',
      entity: 'BehavioralEvent',
      origin_topic: 'unit.ingest.web',
      origin_offset: Number(e.message.offset),
      failed_at: NOW,
    });
    expect(record.original_value).toEqual(Buffer.from('not json'));
    expect(record.errors).toEqual([{ code: 'decode.malformed', field: null, message: 'neither Confluent-framed Avro nor a JSON object' }]);
  });

  it('emits a near-duplicate event beside the raw record it flags', () => {
    const e = envelopeOf(ctx.entities.get('web')!, JSON.stringify(webEvent), {}, 'ev-1');
    e.value = ctx.entities.get('web')!.coerceJson(webEvent).value as Record<string, unknown>;
    const ref = { ingest_id: 'i', source: 'web', natural_id: 'ev-1', topic: 't', partition: 0, offset: 1 };
    e.nearDuplicates.push({
      kind: 'ID_COLLISION',
      source: 'web',
      entity: 'BehavioralEvent',
      record: ref,
      matched: { ...ref, ingest_id: 'j' },
      keys: ['event_id'],
      score: null,
      detected_at: NOW,
    });
    const r = route(router, [e]);
    const nd = r.topicMessages.find((t) => t.topic === 'unit.near-duplicates')!.messages;
    expect(nd.map((m) => m.key)).toEqual(['web:ev-1']);
    expect(r.topicMessages.find((t) => t.topic === 'unit.raw.web')!.messages[0]!.headers![HEADER.nearDuplicate]).toBe('true');
    expect(r.counts.near_duplicates).toBe(1);
  });

  it('dead-letters a record whose value its Avro type cannot hold, instead of failing the batch', () => {
    const ok = decodedCrm('C-5');
    const pill = decodedCrm('C-6');
    pill.value!.loyalty_points = 3_000_000_000;
    const r = route(router, [ok, pill]);
    expect(r.counts).toMatchObject({ in: 2, raw: 1, dead_letter: 1 });
    expect(pill).toMatchObject({ outcome: 'dead-letter', failedStage: 'route' });
    expect(pill.errors.map((e) => e.code)).toEqual(['stage.internal_error']);
    expect(r.errors).toEqual({ 'stage.internal_error': 1 });
  });

  it('routes nothing and writes no ledger entry for an empty batch', () => {
    expect(route(router, [])).toMatchObject({ topicMessages: [], ledger: undefined });
  });
});
