// Hostile files through file ingest (what `c360 ingest` and `c360 watch` run). A row-level class is
// a file of one hostile row between valid ones: the row is dead-lettered at extraction with its
// exact code and row number, and the canary row after it lands in raw. A file-level class fails
// with its exact process code; the canary file ingested after it lands.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { C360Error } from '../../src/contracts/errors.js';
import { topicNames } from '../../src/contracts/topic-names.js';
import { ingestFile } from '../../src/extraction/file-ingest.js';
import { loadMappingFile } from '../../src/extraction/mapping.js';
import { formatOf } from '../../src/extraction/readers/index.js';
import { loadSchema } from '../../src/schema/avro.js';
import { compilePrimaryEntity } from '../../src/schema/entity.js';
import { openObjectStore } from '../../src/storage/backends.js';
import { deadLetterContract } from '../../src/topology/setup.js';
import { collect, config, testKafka } from '../support/kafka.js';
import { type RunningTopology, startTopology, testNamespace, waitForLedger } from '../support/topology.js';

const kafka = testKafka();
const MAX_RECORD_BYTES = 16 * 1024;
const HEADER = 'transaction_id,customer_id,email,channel,occurred_at,currency,total_amount,line_items,status\n';
const row = (id: string, changes: Partial<Record<'occurred_at' | 'total_amount' | 'line_items' | 'extra', string>> = {}) =>
  `${id},C-1,ann@example.com,ECOMMERCE,${changes.occurred_at ?? '2026-11-21T12:00:00Z'},EUR,${changes.total_amount ?? '19.90'},${changes.line_items ?? '"[{""sku"":""SKU-1"",""quantity"":1,""unit_price"":""19.90""}]"'},COMPLETED${changes.extra ?? ''}\n`;
const event = (id: string) =>
  JSON.stringify({ event_id: id, event_type: 'PAGE_VIEW', occurred_at: '2026-11-20T08:30:00Z', customer_id: 'C-1', properties: {} });
const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

interface FileClass {
  name: string;
  /** The file's extension and content, given the id of its hostile row and of its canary. */
  file: (id: string, canary: string) => { ext: string; content: string | Buffer };
  /** The dead-letter code of the hostile row, or the process code the whole file fails with. */
  outcome: { row: string } | { file: string };
  source?: 'commerce' | 'web';
}

const classes: FileClass[] = [
  {
    name: 'a row with more cells than the header',
    file: (id, c) => ({ ext: 'csv', content: HEADER + row(id, { extra: ',surplus' }) + row(c) }),
    outcome: { row: 'mapping.malformed_row' },
  },
  {
    name: 'a row with one line over the record limit',
    file: (id, c) => ({ ext: 'csv', content: HEADER + row(id, { line_items: `"${'x'.repeat(MAX_RECORD_BYTES * 2)}"` }) + row(c) }),
    outcome: { row: 'size.too_large' },
  },
  {
    name: 'a row under the line limit but over the record limit once mapped (backslashes double in JSON)',
    file: (id, c) => ({ ext: 'csv', content: HEADER + row(id).replace('ann@example.com', '\\'.repeat(9000)) + row(c) }),
    outcome: { row: 'size.too_large' },
  },
  {
    name: 'a row that is not UTF-8',
    file: (id, c) => ({
      ext: 'csv',
      content: Buffer.concat([Buffer.from(HEADER), Buffer.from(row(id).replace('ann@', 'ann\xe9@'), 'latin1'), Buffer.from(row(c))]),
    }),
    outcome: { row: 'decode.invalid_utf8' },
  },
  {
    name: 'an amount cell that is not a number',
    file: (id, c) => ({ ext: 'csv', content: HEADER + row(id, { total_amount: 'twenty' }) + row(c) }),
    outcome: { row: 'mapping.invalid_number' },
  },
  {
    name: 'an impossible timestamp (30 February)',
    file: (id, c) => ({ ext: 'csv', content: HEADER + row(id, { occurred_at: '2026-02-30T12:00:00Z' }) + row(c) }),
    outcome: { row: 'mapping.invalid_timestamp' },
  },
  {
    name: 'a timestamp at hour 25',
    file: (id, c) => ({ ext: 'csv', content: HEADER + row(id, { occurred_at: '2026-02-03T25:00:00Z' }) + row(c) }),
    outcome: { row: 'mapping.invalid_timestamp' },
  },
  {
    name: 'a list cell that is not JSON',
    file: (id, c) => ({ ext: 'csv', content: HEADER + row(id, { line_items: 'sku-1 x1' }) + row(c) }),
    outcome: { row: 'mapping.invalid_json' },
  },
  {
    name: 'a list cell nested 100 levels',
    file: (id, c) => ({ ext: 'csv', content: HEADER + row(id, { line_items: nested(100) }) + row(c) }),
    outcome: { row: 'decode.too_deep' },
  },
  {
    name: 'a file without a header row',
    file: (id) => ({ ext: 'csv', content: row(id) + row(`${id}-2`) }) /* its first row is taken for a header */,
    outcome: { row: 'mapping.unknown_columns' },
  },
  {
    name: 'a quote that never closes',
    file: (id, c) => ({ ext: 'csv', content: `${HEADER}${row(c)}${id},"open\n${'x,x,x\n'.repeat(12_000)}` }),
    outcome: { file: 'extract.unreadable_file' },
  },
  {
    name: 'a decompression bomb',
    file: () => ({ ext: 'csv.gz', content: zlib.gzipSync(Buffer.concat([Buffer.from(HEADER), Buffer.alloc(96 * 1024 * 1024)])) }),
    outcome: { file: 'extract.unreadable_file' },
  },
  {
    name: 'a corrupt gzip',
    file: () => ({ ext: 'csv.gz', content: Buffer.concat([zlib.gzipSync(HEADER).subarray(0, 12), Buffer.from('garbage')]) }),
    outcome: { file: 'extract.unreadable_file' },
  },
  {
    name: 'an NDJSON line that is not JSON',
    source: 'web',
    file: (id, c) => ({ ext: 'ndjson', content: `${event(id).slice(0, -3)}\n${event(c)}\n` }),
    outcome: { row: 'mapping.malformed_row' },
  },
  {
    name: 'an NDJSON line that is an array',
    source: 'web',
    file: (id, c) => ({ ext: 'ndjson', content: `[${event(id)}]\n${event(c)}\n` }),
    outcome: { row: 'mapping.malformed_row' },
  },
  {
    name: 'an NDJSON line nested 100 levels',
    source: 'web',
    file: (_id, c) => ({ ext: 'ndjson', content: `{"a":${nested(100)}}\n${event(c)}\n` }),
    outcome: { row: 'decode.too_deep' },
  },
  {
    name: 'an NDJSON line over the record limit',
    source: 'web',
    file: (id, c) => ({ ext: 'ndjson', content: `${event(id).replace('{', `{"pad":"${'p'.repeat(MAX_RECORD_BYTES * 3)}",`)}\n${event(c)}\n` }),
    outcome: { row: 'size.too_large' },
  },
  {
    name: 'an NDJSON line that is not UTF-8',
    source: 'web',
    file: (id, c) => ({ ext: 'ndjson', content: Buffer.concat([Buffer.from(event(id).replace('C-1', 'C-\xe9'), 'latin1'), Buffer.from(`\n${event(c)}\n`)]) }),
    outcome: { row: 'decode.invalid_utf8' },
  },
  {
    name: 'an NDJSON line of another entity',
    source: 'web',
    file: (_id, c) => ({ ext: 'ndjson', content: `{"sku":"S-1","price":"2.00"}\n${event(c)}\n` }),
    outcome: { row: 'mapping.unknown_columns' },
  },
];

describe('hostile files', () => {
  const namespace = testNamespace();
  const names = topicNames(namespace);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-hostile-files-'));
  let t: RunningTopology;

  beforeAll(async () => {
    t = await startTopology(namespace, (x) => (x.maxRecordBytes = MAX_RECORD_BYTES));
  });
  afterAll(async () => {
    await t?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`dead-letters each of ${classes.length} classes with its exact code and row, or fails the file with its code, and lands every canary`, async () => {
    const deadLetter = await deadLetterContract(config, kafka, namespace);
    const store = openObjectStore(config);
    const ingest = (source: 'commerce' | 'web', file: string) =>
      ingestFile({
        kafka,
        namespace,
        entity: compilePrimaryEntity(t.topology.sources.find((s) => s.name === source)!),
        file,
        format: formatOf(file, undefined),
        mapping: loadMappingFile(undefined),
        sourceKind: 'batch',
        deadLetter,
        maxRecordBytes: MAX_RECORD_BYTES,
        store,
      });
    const outcomes: Array<[string, string]> = [];
    const canaries: Array<[string, string]> = [];
    for (const [i, cls] of classes.entries()) {
      const source = cls.source ?? 'commerce';
      const { ext, content } = cls.file(`H-${i}`, `canary-${i}`);
      const file = path.join(dir, `class-${i}.${ext}`);
      fs.writeFileSync(file, content);
      try {
        await ingest(source, file);
        outcomes.push([cls.name, 'ingested']);
      } catch (err) {
        outcomes.push([cls.name, err instanceof C360Error ? `file:${err.code}` : `thrown:${String(err)}`]);
      }
      // The canary: the valid row after the hostile one in the same file, or else a valid file after this one.
      if (!content.includes(`canary-${i}`)) {
        const after = path.join(dir, `canary-${i}.${source === 'web' ? 'ndjson' : 'csv'}`);
        fs.writeFileSync(after, source === 'web' ? `${event(`canary-${i}`)}\n` : HEADER + row(`canary-${i}`));
        await ingest(source, after);
      }
      canaries.push([source, `canary-${i}`]);
    }
    expect(outcomes).toEqual(classes.map((c) => [c.name, 'file' in c.outcome ? `file:${c.outcome.file}` : 'ingested']));

    const rowClasses = classes.map((c, i) => ({ c, i })).filter(({ c }) => 'row' in c.outcome);
    const type = loadSchema('DeadLetter').type;
    // The header-less file adds its first line; the file whose quote never closes, its runaway row.
    const expectedDead = rowClasses.length + 2;
    const dead = (await collect(kafka, names.deadLetter, (s) => s.length >= expectedDead)).map(
      (m) => type.fromBuffer(m.value!.subarray(5)) as { origin_topic: string; origin_offset: number; errors: Array<{ code: string }> },
    );
    for (const { c, i } of rowClasses) {
      const mine = dead.filter((d) => d.origin_topic === `file:class-${i}.${c.file('', '').ext}`);
      expect(
        mine.map((d) => d.errors[0]!.code),
        c.name,
      ).toContain((c.outcome as { row: string }).row);
      expect(mine.every((d) => d.origin_offset >= 0)).toBe(true);
    }
    const runaway = dead.filter((d) => d.origin_topic === `file:class-${classes.findIndex((c) => c.name === 'a quote that never closes')}.csv`);
    expect(runaway.map((d) => [d.origin_offset, d.errors[0]!.code])).toEqual([[2, 'size.too_large']]);
    const headerless = dead.filter((d) => d.origin_topic === `file:class-${classes.findIndex((c) => c.name === 'a file without a header row')}.csv`);
    expect(headerless.map((d) => [d.origin_offset, d.errors[0]!.code]).sort()).toEqual([
      [0, 'mapping.unknown_columns'],
      [1, 'mapping.unknown_columns'],
    ]);

    await waitForLedger(kafka, names, (l) => l.total.in >= canaries.length, 120_000);
    for (const source of ['commerce', 'web'] as const) {
      const want = canaries.filter(([s]) => s === source).map(([, id]) => id);
      const raw = await collect(kafka, names.raw(source), (s) => want.every((id) => s.some((m) => m.key?.toString() === id)));
      const keys = new Set(raw.map((m) => m.key!.toString()));
      for (const id of want) expect(keys.has(id), id).toBe(true);
    }
  });
});
