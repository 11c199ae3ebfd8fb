import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { WriterSchemas } from '../schema/registry.js';
import { describeRecord } from './show.js';
import type { QuarantinedRecord } from './store.js';

const schemas = new WriterSchemas(loadConfig({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' }));
const record = (stage: string, value: unknown): QuarantinedRecord => ({
  file: 'quarantine/source=crm/date=2026-11-27/x.parquet',
  source: 'crm',
  date: '2026-11-27',
  deadLetter: { topic: 'c360.dead-letter', partition: 0, offset: 1 },
  errors: [{ code: 'quality.email_invalid', field: 'email', message: 'not a valid email address' }],
  stage,
  entity: 'CustomerProfile',
  event: 'CustomerProfile',
  originalKey: null,
  originalValue: Buffer.from(JSON.stringify(value)),
  originalHeaders: {},
  origin: { topic: 'c360.ingest.crm', partition: 0, offset: 1 },
  lineage: { ingest_id: 'i', source: 'crm', source_kind: 'batch', received_at: 0, origin: '{}' },
  failedAt: 0,
  forgotten: false,
  subject: null,
});

describe('quarantine show', () => {
  it('masks the fields the contracts mark personal, and keeps the others', async () => {
    const shown = await describeRecord(
      record('quality', { customer_id: 'C-1', email: 'ann@example.com', address: { line1: '1 Main St', city: 'Dublin' } }),
      schemas,
      false,
    );
    expect(shown.value).toEqual({ customer_id: 'C-1', email: 'a***@example.com', address: { line1: '1***', city: 'Dublin' } });
  });

  it('masks a key that is an email or a phone, and keeps one that is an id', async () => {
    const keyed = (key: string) => ({ ...record('quality', { customer_id: 'C-1' }), originalKey: Buffer.from(key) });
    expect((await describeRecord(keyed('ann@example.com'), schemas, false)).key).toBe('a***@example.com');
    expect((await describeRecord(keyed('+353851234567'), schemas, false)).key).toBe('+***');
    expect((await describeRecord(keyed('C-1'), schemas, false)).key).toBe('C-1');
    expect((await describeRecord(keyed('ann@example.com'), schemas, true)).key).toBe('ann@example.com');
  });

  it("masks every cell of a file row that could not be mapped: the file's column names are no contract's", async () => {
    const shown = await describeRecord(record('extract', { 'Customer No': 'C-1', 'E-mail Address': 'ann@example.com', Street: '1 Main St' }), schemas, false);
    expect(shown.value).toEqual({ 'Customer No': 'C***', 'E-mail Address': 'a***@example.com', Street: '1***' });
  });

  it('describes a value nested 100,000 levels instead of walking it (which overflowed the stack)', async () => {
    const deep = { ...record('decode', null), originalValue: Buffer.from(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`) };
    for (const unmask of [false, true]) {
      const shown = await describeRecord(deep, schemas, unmask);
      expect(shown.value).toEqual({ nested_deeper_than: 64, bytes: 200_006 });
      expect(() => JSON.stringify(shown)).not.toThrow();
    }
  });

  it('shows everything when asked to unmask', async () => {
    const shown = await describeRecord(record('extract', { Street: '1 Main St' }), schemas, true);
    expect(shown.value).toEqual({ Street: '1 Main St' });
  });
});
