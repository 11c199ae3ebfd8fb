import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, config, testKafka } from '../../test/support/kafka.js';
import { testNamespace } from '../../test/support/topology.js';
import { spawnCli } from '../../test/support/worker.js';
import type { DeadLetterContract } from '../contracts/dead-letter.js';
import { HEADER } from '../contracts/lineage.js';
import { type TopicNames, topicNames } from '../contracts/topic-names.js';
import type { Topology } from '../contracts/topology-definition.js';
import { loadSchema } from '../schema/avro.js';
import { compilePrimaryEntity } from '../schema/entity.js';
import { convertRow, fileSchema, ParquetFileWriter } from '../sinks/parquet/parquet-file.js';
import { openObjectStore } from '../storage/backends.js';
import { loadTopology } from '../topology/load.js';
import { createTopologyTopics, deadLetterContract } from '../topology/setup.js';
import { type IngestFileResult, ingestFile } from './file-ingest.js';
import { loadMappingFile } from './mapping.js';
import { formatOf } from './readers/index.js';

const kafka = testKafka();
const fixtures = path.resolve('test/fixtures/files');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-ingest-'));
const json = (m: KafkaMessage) => JSON.parse(m.value!.toString()) as Record<string, unknown>;
const header = (m: KafkaMessage, h: string) => m.headers?.[h]?.toString();

interface DeadRow {
  code: string;
  field: string | null;
  row: number;
  source: string;
  stage: string;
  origin: { file: string; row: number };
}

/** An enrichment record as a vendor's Parquet export holds it, without its timestamp. */
const enrichmentRow = (i: number) => ({
  record_id: `E-${i}`,
  provider: 'acme',
  email: `p${i}@example.com`,
  phone: null,
  first_name: null,
  last_name: null,
  postal_code: null,
  country: 'IE',
  age_band: 'AGE_25_34',
  household_income_band: null,
  interests: ['running', 'cooking'],
});

describe('c360 ingest: files into the ingest topics, exactly once', () => {
  let topology: Topology;
  let names: TopicNames;
  let deadLetter: DeadLetterContract;
  const dead: DeadRow[] = [];

  const ingest = (source: string, file: string, extra: { mapping?: string; force?: boolean } = {}): Promise<IngestFileResult> =>
    ingestFile({
      kafka,
      namespace: topology.namespace,
      entity: compilePrimaryEntity(topology.sources.find((s) => s.name === source)!),
      file,
      format: formatOf(file, undefined),
      mapping: loadMappingFile(extra.mapping),
      sourceKind: 'batch',
      deadLetter,
      maxRecordBytes: topology.maxRecordBytes,
      store: openObjectStore(config),
      force: extra.force,
    });

  beforeAll(async () => {
    topology = await loadTopology('customer360', { namespace: testNamespace() });
    names = topicNames(topology.namespace);
    await createTopologyTopics(kafka, topology, config.topics);
    deadLetter = await deadLetterContract(config, kafka, topology.namespace);
  });

  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('maps CSV columns to fields (BOM, quoting, dotted nested names, declared date format, empty → null)', async () => {
    const result = await ingest('crm', path.join(fixtures, 'crm-profiles.csv'), { mapping: path.join(fixtures, 'crm-mapping.json') });
    expect(result).toMatchObject({ outcome: 'ingested', rows: 8, sent: 3, deadLettered: 5 });
    const sent = await collect(kafka, names.ingest('crm'), (s) => s.length === 3);
    const [c1, c2, c8] = ['C-1', 'C-2', 'C-8'].map((k) => sent.find((m) => m.key?.toString() === k)!);
    expect(json(c1!)).toEqual({
      customer_id: 'C-1',
      email: 'ann@example.com',
      first_name: 'Ann',
      last_name: 'Lee',
      phone: '+353861234567',
      birth_date: '1990-04-01',
      address: { line1: '1 Grand Canal Sq, Dock', city: 'Dublin', country: 'IE', postal_code: 'D02 X285' },
      loyalty_tier: 'GOLD',
      loyalty_points: 1200,
      marketing_consent: true,
      updated_at: '2026-11-01T10:00:00Z',
    });
    expect(json(c2!)).toMatchObject({
      last_name: 'O\'Brien "Bobby"',
      phone: null,
      birth_date: null,
      address: { line1: '2 Main St\nApt 4', postal_code: null },
      loyalty_points: null,
      marketing_consent: false,
      updated_at: '2026-11-01T10:00:00.000Z',
    });
    expect(json(c8!)).toMatchObject({ marketing_consent: false, updated_at: '2026-11-02T08:00:00+01:00' });
    expect(header(c1!, HEADER.sourceKind)).toBe('batch');
    expect(JSON.parse(header(c1!, HEADER.origin)!)).toEqual({ file: 'crm-profiles.csv', sha256: result.sha256, row: 1, line: 2 });
    expect(JSON.parse(header(c8!, HEADER.origin)!)).toMatchObject({ row: 8 });
  });

  it('ingests gzip NDJSON and Parquet with nested values, and CSV with JSON list cells', async () => {
    expect(await ingest('marketing', path.join(fixtures, 'marketing-events.ndjson.gz'))).toMatchObject({ rows: 4, sent: 2, deadLettered: 2 });
    const events = await collect(kafka, names.ingest('marketing'), (s) => s.length === 2);
    expect(events.map(json).sort((a, b) => String(a.event_id).localeCompare(String(b.event_id)))).toEqual([
      {
        event_id: 'm-1',
        event_type: 'EMAIL_OPEN',
        occurred_at: '2026-11-20T08:00:00Z',
        email: 'ann@example.com',
        campaign: { campaign_id: 'winter', name: 'Winter sale', channel: 'EMAIL' },
      },
      {
        event_id: 'm-3',
        event_type: 'EMAIL_CLICK',
        occurred_at: '2026-11-21T12:00:00.000Z',
        email: 'bob@example.com',
        campaign: { campaign_id: 'winter', name: 'Winter sale', channel: 'EMAIL' },
      },
    ]);

    // A Parquet export from an enrichment vendor, written with the raw layer's own writer.
    const { schema, type } = loadSchema('EnrichmentRecord');
    const file = path.join(tmp, 'enrichment.parquet');
    const enrichment = fileSchema(schema, []);
    const writer = new ParquetFileWriter(file, enrichment, [], 2);
    for (let i = 1; i <= 3; i++) {
      writer.append(convertRow(enrichment, type.fromBuffer(type.toBuffer({ ...enrichmentRow(i), updated_at: Date.UTC(2026, 10, 1, i) })), {}));
    }
    writer.close();
    expect(await ingest('enrichment', file)).toMatchObject({ rows: 3, sent: 3, deadLettered: 0 });
    const enriched = await collect(kafka, names.ingest('enrichment'), (s) => s.length === 3);
    expect(json(enriched.find((m) => m.key?.toString() === 'E-1')!)).toEqual({ ...enrichmentRow(1), updated_at: '2026-11-01T01:00:00.000Z' });

    expect(await ingest('commerce', path.join(fixtures, 'commerce-orders.csv'))).toMatchObject({ rows: 4, sent: 2, deadLettered: 2 });
    const orders = await collect(kafka, names.ingest('commerce'), (s) => s.length === 2);
    expect(json(orders.find((m) => m.key?.toString() === 'T-1')!).line_items).toEqual([
      { sku: 'SKU-1', quantity: 1, unit_price: '19.90' },
      { sku: 'SKU-2', quantity: 2, unit_price: '20.00' },
    ]);
  });

  it('dead-letters every mapping failure with its code, field, file and row number', async () => {
    for (const m of await collect(kafka, names.deadLetter, (s) => s.length === 9)) {
      const d = deadLetter.type.fromBuffer(m.value!.subarray(5)) as {
        errors: { code: string; field: string | null }[];
        origin_offset: number;
        source: string;
        stage: string;
        lineage: { origin: string };
      };
      dead.push({
        code: d.errors[0]!.code,
        field: d.errors[0]!.field,
        row: d.origin_offset,
        source: d.source,
        stage: d.stage,
        origin: JSON.parse(d.lineage.origin),
      });
    }
    const seen = dead
      .map((d) => [d.source, d.row, d.code, d.field, d.origin.row, d.stage])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1]));
    expect(seen).toEqual([
      ['commerce', 2, 'mapping.invalid_json', 'line_items', 2, 'extract'],
      ['commerce', 3, 'mapping.malformed_row', null, 3, 'extract'],
      ['crm', 3, 'mapping.invalid_date', 'birth_date', 3, 'extract'],
      ['crm', 4, 'mapping.invalid_number', 'loyalty_points', 4, 'extract'],
      ['crm', 5, 'mapping.invalid_boolean', 'marketing_consent', 5, 'extract'],
      ['crm', 6, 'mapping.invalid_timestamp', 'updated_at', 6, 'extract'],
      ['crm', 7, 'mapping.malformed_row', null, 7, 'extract'],
      ['marketing', 2, 'mapping.malformed_row', null, 2, 'extract'],
      ['marketing', 3, 'mapping.malformed_row', null, 3, 'extract'],
    ]);
    expect(new Set(dead.map((d) => d.origin.file))).toEqual(new Set(['crm-profiles.csv', 'commerce-orders.csv', 'marketing-events.ndjson.gz']));
  });

  it('reports a file whose bytes were already ingested for the source, under any name, as a duplicate that sends nothing, unless --force', async () => {
    const file = path.join(fixtures, 'crm-profiles.csv');
    const mapping = path.join(fixtures, 'crm-mapping.json');
    const again = spawnCli(['ingest', file, '--source', 'crm', '--mapping', mapping, '--namespace', topology.namespace]);
    expect((await again.exited).code, again.output()).toBe(0);
    expect(again.stdout()).toMatch(
      /^crm-profiles\.csv: duplicate of crm-profiles\.csv \(the same bytes, sha256 [0-9a-f]{12}…, ingested \S+\): nothing sent; --force to ingest it again$/m,
    );
    // A script reads the same as one JSON line per file; a file that cannot be read has its line too.
    const folder = path.join(tmp, 'json-run');
    fs.mkdirSync(folder);
    fs.copyFileSync(file, path.join(folder, 'crm-profiles.csv'));
    fs.writeFileSync(path.join(folder, 'broken.csv.gz'), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03]));
    const scripted = spawnCli(['ingest', folder, '--source', 'crm', '--mapping', mapping, '--namespace', topology.namespace, '--json']);
    expect((await scripted.exited).code, scripted.output()).toBe(1);
    const lines = scripted
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { name: 'broken.csv.gz', outcome: 'failed', error: expect.stringMatching(/^broken\.csv\.gz: not ingested: broken\.csv\.gz is not a whole gzip file/) },
      {
        name: 'crm-profiles.csv',
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        outcome: 'duplicate',
        duplicateOf: { file: 'crm-profiles.csv', at: expect.any(String) },
        rows: 0,
        sent: 0,
        deadLettered: 0,
        unknownColumns: [],
        ms: expect.any(Number),
      },
    ]);
    // The same bytes under another name are the same file.
    const renamed = path.join(tmp, 'crm-renamed.csv');
    fs.copyFileSync(file, renamed);
    const duplicate = await ingest('crm', renamed, { mapping });
    expect(duplicate).toMatchObject({ outcome: 'duplicate', duplicateOf: { file: 'crm-profiles.csv' }, rows: 0, sent: 0, deadLettered: 0 });
    const copy = path.join(tmp, 'renamed.csv.gz');
    fs.writeFileSync(copy, zlib.gzipSync(fs.readFileSync(file)));
    const forced = await ingest('crm', file, { mapping, force: true });
    expect(forced).toMatchObject({ outcome: 'ingested', rows: 8, sent: 3 });
    expect((await ingest('crm', copy, { mapping })).outcome).toBe('ingested'); // gzip bytes differ: a different file
    expect((await ingest('crm', copy, { mapping })).outcome).toBe('duplicate');
  });

  it('a gzip file cut off in transfer lands nothing and says so; delivered whole, it lands once', async () => {
    const rows = Array.from({ length: 800 }, (_, i) => `T-cut-${i},C-1,ann@example.com,ECOMMERCE,2026-11-21T12:00:00Z,EUR,19.90,"[]",COMPLETED`);
    const whole = zlib.gzipSync(`transaction_id,customer_id,email,channel,occurred_at,currency,total_amount,line_items,status\n${rows.join('\n')}\n`);
    const cut = path.join(tmp, 'orders-cut.csv.gz');
    fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const run = spawnCli(['ingest', cut, '--source', 'commerce', '--namespace', topology.namespace, '--batch-rows', '100']);
    expect((await run.exited).code).toBe(1);
    expect(run.output()).toMatch(
      /^orders-cut\.csv\.gz: not ingested: orders-cut\.csv\.gz is not a whole gzip file \(unexpected end of file\); nothing of it was sent\.$/m,
    );
    const full = path.join(tmp, 'orders-full.csv.gz');
    fs.writeFileSync(full, whole);
    expect(await ingest('commerce', full, {})).toMatchObject({ outcome: 'ingested', rows: 800, sent: 800 });
    const sent = await collect(kafka, names.ingest('commerce'), (s) => s.filter((m) => m.key?.toString().startsWith('T-cut-')).length >= 800);
    expect(sent.filter((m) => m.key?.toString().startsWith('T-cut-'))).toHaveLength(800);
  });

  it('ingests another entity of a source with --entity, and names the entities when it is not one', async () => {
    const file = path.join(tmp, 'products.csv');
    fs.writeFileSync(file, 'product_id,sku,name,price,currency,active,updated_at\nP-1,SKU-1,Scarf,19.90,EUR,yes,2026-11-01T00:00:00Z\n');
    const run = spawnCli(['ingest', file, '--source', 'commerce', '--entity', 'Product', '--namespace', topology.namespace]);
    expect((await run.exited).code, run.output()).toBe(0);
    const sent = await collect(kafka, names.ingest('commerce'), (s) => s.some((m) => m.key?.toString() === 'P-1'));
    const product = sent.find((m) => m.key?.toString() === 'P-1')!;
    expect(header(product, HEADER.entity)).toBe('Product');
    expect(json(product)).toEqual({
      product_id: 'P-1',
      sku: 'SKU-1',
      name: 'Scarf',
      price: '19.90',
      currency: 'EUR',
      active: true,
      updated_at: '2026-11-01T00:00:00Z',
    });
    const wrong = spawnCli(['ingest', file, '--source', 'commerce', '--entity', 'Coupon', '--namespace', topology.namespace]);
    expect((await wrong.exited).code).toBe(2);
    expect(wrong.output().trim()).toBe('c360: --entity Coupon: source commerce carries Transaction, Product.');
  });

  it('resumes an interrupted file after its last committed batch: every row lands once', async () => {
    const file = path.join(tmp, 'big.csv');
    const lines = ['customer_id,email,loyalty_points'];
    for (let i = 1; i <= 1_000; i++) lines.push(`R-${i},r${i}@example.com,${i === 500 ? 'x' : i}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const args = ['ingest', file, '--source', 'support', '--namespace', topology.namespace, '--batch-rows', '100', '--format', 'csv'];
    // Support has no such columns: map them onto its fields to exercise the mapping file too.
    const mapping = path.join(tmp, 'support-mapping.json');
    fs.writeFileSync(mapping, JSON.stringify({ columns: { customer_id: 'interaction_id', loyalty_points: 'satisfaction_score' } }));
    const killed = spawnCli([...args, '--mapping', mapping], { C360_CRASH_AT: 'ingest-after-commit:4' });
    expect((await killed.exited).signal).toBe('SIGKILL');
    const resumed = spawnCli([...args, '--mapping', mapping]);
    expect((await resumed.exited).code, resumed.output()).toBe(0);
    expect(resumed.stdout()).toMatch(/^big\.csv: 600 rows read \(resumed at row 401\), 999 sent, 1 dead-lettered/m);
    const support = await collect(kafka, names.ingest('support'), (s) => s.length >= 999, { timeoutMs: 30_000 });
    const rows = support.map((m) => (JSON.parse(header(m, HEADER.origin)!) as { row: number }).row);
    expect(rows.length).toBe(999);
    expect(new Set(rows).size).toBe(999);
    expect(rows.includes(500)).toBe(false);
  });
});
