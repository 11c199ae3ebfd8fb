import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { loadSchema } from '../schema/avro.js';
import { type DeadLetter, deadLetterMessage, deadLetterRecord } from './dead-letter.js';
import { frame, framedSchemaId } from './framing.js';
import { balanced, formatLedger, type LedgerEntry, ledgerMessage, totalsOf } from './ledger.js';
import { checkLineage, HEADER, ingestIdFrom, lineageHeaders, readLineage } from './lineage.js';
import { topicNames } from './topic-names.js';

const message = (headers: Record<string, string> = {}, offset = '7'): KafkaMessage =>
  ({
    key: Buffer.from('k'),
    value: Buffer.from('{}'),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
    offset,
    timestamp: '1764000000000',
    attributes: 0,
  }) satisfies KafkaMessage;

describe('lineage', () => {
  it('derives the same name-based ingest id from the same origin, and a UUID version 5 shape', () => {
    expect(ingestIdFrom('t/0/1')).toBe(ingestIdFrom('t/0/1'));
    expect(ingestIdFrom('t/0/1')).not.toBe(ingestIdFrom('t/0/2'));
    expect(ingestIdFrom('t/0/1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('gives a record published straight to Kafka lineage from its position', () => {
    const l = readLineage(message(), 'c360.ingest.web', 2, 'web');
    expect(l).toEqual({
      ingestId: ingestIdFrom('c360.ingest.web/2/7/1764000000000'),
      source: 'web',
      sourceKind: 'stream',
      receivedAt: 1764000000000,
      origin: '{"topic":"c360.ingest.web","partition":2,"offset":7}',
    });
  });

  it('keeps the lineage a record arrived with, and reads it back from the headers it writes', () => {
    const written = {
      ingestId: 'id-1',
      source: 'crm',
      sourceKind: 'batch' as const,
      receivedAt: Date.parse('2026-11-27T10:00:00Z'),
      origin: '{"file":"a.csv","row":3}',
    };
    const headers = Object.fromEntries(Object.entries(lineageHeaders(written)).map(([k, v]) => [k, String(v)]));
    expect(readLineage(message(headers), 't', 0, 'crm')).toEqual(written);
  });

  it('carries a W3C traceparent on, and drops a malformed one without blaming the record', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const traced = checkLineage(message({ [HEADER.traceparent]: traceparent }), 't', 0, 'web');
    expect(traced).toMatchObject({ lineage: { trace: traceparent }, problem: undefined });
    expect(String(lineageHeaders(traced.lineage)[HEADER.traceparent])).toBe(traceparent);
    for (const bad of [
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'not a trace',
    ]) {
      const { lineage, problem } = checkLineage(message({ [HEADER.traceparent]: bad }), 't', 0, 'web');
      expect([lineage.trace, problem], bad).toEqual([undefined, undefined]);
      expect(lineageHeaders(lineage)[HEADER.traceparent], bad).toBeUndefined();
    }
  });

  it('takes an unknown source kind as a stream', () => {
    expect(readLineage(message({ [HEADER.sourceKind]: 'carrier-pigeon' }), 't', 0, 'web').sourceKind).toBe('stream');
  });
});

describe('topic names', () => {
  it('derive every topic from the namespace', () => {
    const t = topicNames('c360');
    expect([t.ingest('crm'), t.raw('crm'), t.nearDuplicates, t.deadLetter, t.ledger, t.connectorState]).toEqual([
      'c360.ingest.crm',
      'c360.raw.crm',
      'c360.near-duplicates',
      'c360.dead-letter',
      'c360.ledger',
      'c360.connector-state',
    ]);
  });
});

describe('framing', () => {
  it('writes the Confluent frame and reads its schema id back', () => {
    const framed = frame(258, Buffer.from([1, 2]));
    expect([...framed]).toEqual([0, 0, 0, 1, 2, 1, 2]);
    expect(framedSchemaId(framed)).toBe(258);
  });

  it.each([[null], [Buffer.from('{"a":1}')], [Buffer.from([0, 1])]])('finds no schema id in %j', (value) => {
    expect(framedSchemaId(value)).toBeUndefined();
  });
});

describe('the dead-letter record', () => {
  const { schema, type } = loadSchema('DeadLetter');
  const letter: DeadLetter = {
    errors: [{ code: 'quality.email_invalid', field: 'email', message: 'not a valid email address' }],
    stage: 'quality',
    source: 'crm',
    entity: 'CustomerProfile',
    original: {
      key: Buffer.from('C-1'),
      value: Buffer.from('{"email":"x"}'),
      headers: { [HEADER.source]: 'crm', multi: [Buffer.from('a'), Buffer.from('b')] },
    },
    origin: { topic: 'c360.ingest.crm', partition: 1, offset: 42 },
    lineage: { ingestId: 'id-1', source: 'crm', sourceKind: 'batch', receivedAt: 1764000000000, origin: '{"row":1}' },
    failedAt: 1764000000500,
  };

  it('is a valid DeadLetter Avro record that keeps the original bytes and the first value of each header', () => {
    const back = type.fromBuffer(type.toBuffer(deadLetterRecord(letter))) as Record<string, unknown>;
    expect(back.original_value).toEqual(Buffer.from('{"email":"x"}'));
    expect(back.original_headers).toEqual({ [HEADER.source]: Buffer.from('crm'), multi: Buffer.from('a') });
    expect(back.lineage).toEqual({ ingest_id: 'id-1', source: 'crm', source_kind: 'batch', received_at: 1764000000000, origin: '{"row":1}' });
    expect(String(back.processor_version)).toMatch(/^c360-ingest\/\d+\.\d+\.\d+/);
  });

  it('goes on the dead-letter topic framed, keyed as it arrived, with lineage and Kafka Connect headers', () => {
    const { message: m, outOfLine } = deadLetterMessage({ id: 9, schema, type, maxMessageBytes: 1_048_588 }, letter, 'customer360');
    expect(outOfLine).toBeUndefined();
    expect(framedSchemaId(m.value as Buffer)).toBe(9);
    expect(m.key).toEqual(Buffer.from('C-1'));
    expect(m.headers).toMatchObject({
      [HEADER.ingestId]: 'id-1',
      [HEADER.entity]: 'CustomerProfile',
      '__connect.errors.topic': 'c360.ingest.crm',
      '__connect.errors.offset': '42',
      '__connect.errors.exception.class.name': 'quality.email_invalid',
      '__connect.errors.exception.message': 'quality.email_invalid at email: not a valid email address',
    });
  });

  it('keeps its original value out of line, by sha256, when it would be over the topic limit', () => {
    const big = Buffer.alloc(5000, 'x');
    const { message, outOfLine } = deadLetterMessage(
      { id: 9, schema, type, maxMessageBytes: 4096 },
      { ...letter, original: { ...letter.original, value: big } },
      'c',
    );
    expect(outOfLine).toEqual({ key: expect.stringMatching(/^quarantine\/originals\/sha256=[0-9a-f]{64}$/), sha256: expect.any(String), bytes: big });
    expect((message.value as Buffer).length).toBeLessThan(4096);
    const back = type.fromBuffer((message.value as Buffer).subarray(5)) as Record<string, unknown>;
    expect(back.original_value).toBeNull();
    expect(back.original_value_ref).toEqual({ key: outOfLine!.key, sha256: outOfLine!.sha256, size: 5000 });
    expect(back.errors).toEqual(letter.errors);
  });
});

describe('the ledger', () => {
  const entry = (source: string, c: Partial<LedgerEntry>): LedgerEntry => ({
    source,
    topic: `t.${source}`,
    partition: 0,
    first_offset: 0,
    last_offset: 9,
    in: 0,
    raw: 0,
    duplicates: 0,
    dead_letter: 0,
    suppressed: 0,
    near_duplicates: 0,
    errors: {},
    committed_at: '',
    ...c,
  });

  it('sums entries per source and in total, errors included', () => {
    const totals = totalsOf([
      entry('crm', { in: 10, raw: 8, dead_letter: 2, errors: { 'quality.email_invalid': 2 } }),
      entry('crm', { in: 5, raw: 4, duplicates: 1 }),
      entry('web', { in: 3, raw: 3 }),
    ]);
    expect(totals.bySource.get('crm')).toMatchObject({ in: 15, raw: 12, duplicates: 1, dead_letter: 2, errors: { 'quality.email_invalid': 2 } });
    expect(totals.total).toMatchObject({ in: 18, raw: 15, duplicates: 1, dead_letter: 2 });
    expect(balanced(totals.total)).toBe(true);
    expect(formatLedger(totals).split('\n').at(-1)).toMatch(/^total\s+18\s+15\s+1\s+2\s+0\s+0\s+yes$/);
  });

  it('does not balance when a record is unaccounted for', () => {
    expect(balanced({ in: 3, raw: 1, duplicates: 1, dead_letter: 0, suppressed: 0, near_duplicates: 0 })).toBe(false);
    expect(balanced({ in: 3, raw: 1, duplicates: 1, dead_letter: 0, suppressed: 1, near_duplicates: 0 })).toBe(true);
  });

  it('keys a ledger message by the first position it covers', () => {
    expect(ledgerMessage(entry('crm', { first_offset: 100 })).key).toBe('t.crm:0:100');
  });
});
