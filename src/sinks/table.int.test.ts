// The table layer end to end: records through the topology and two sink workers into Iceberg tables
// in the stack's REST catalog (warehouse on S3Mock), read back by Iceberg's own Java reader.
import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile } from '../../test/fixtures/records.js';
import { type ReadTable, readTable, TABLE_ENV, tableConfig } from '../../test/support/iceberg.js';
import { eventually, logger, testKafka } from '../../test/support/kafka.js';
import {
  clearRedis,
  mixedOutput,
  produce,
  produceMixedInput,
  type RunningTopology,
  startTopology,
  testNamespace,
  waitForLedger,
} from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import { frame } from '../contracts/framing.js';
import type { LedgerTotals } from '../contracts/ledger.js';
import { HEADER } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';
import { RestCatalog } from '../iceberg/rest-catalog.js';
import { mainSnapshot } from '../iceberg/table-metadata.js';
import { loadSchema, parseType } from '../schema/avro.js';
import { compilePrimaryEntity } from '../schema/entity.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { S3Store } from '../storage/s3-store.js';
import { loadTopology } from '../topology/load.js';
import { createTopologyTopics, registerTopologySchemas } from '../topology/setup.js';
import { SinkWorker } from './sink-worker.js';

const kafka = testKafka();
const registry = createSchemaRegistry(tableConfig);
const catalog = new RestCatalog(tableConfig.catalog!);

/** The rows a table's newest snapshot says it holds (0 before its first). */
async function tableRows(ns: string, table: string): Promise<number> {
  const loaded = await catalog.loadTable(ns, table);
  return Number((loaded && mainSnapshot(loaded.metadata)?.summary['total-records']) ?? 0);
}

describe('sink workers land the topics as Iceberg tables, read back by Iceberg', () => {
  let t: RunningTopology;
  let ledger: LedgerTotals;
  let sinks: SinkWorker[];
  const tables = new Map<string, ReadTable>();
  let topicRecords: Map<string, KafkaMessage[]>;

  beforeAll(async () => {
    t = await startTopology(testNamespace());
    ledger = await produceMixedInput(kafka, t, 600);
    topicRecords = await mixedOutput(kafka, t, ledger);
    // Two workers share the partitions and commit to the same tables; small files, so each table gets several commits.
    sinks = [0, 1].map(
      () =>
        new SinkWorker({
          config: tableConfig,
          topology: t.topology,
          logger,
          metrics: new Registry(),
          rotation: { maxRecords: 80, idleFlushMs: 300, rowGroupRows: 32 },
          sessionTimeoutMs: 10_000,
        }),
    );
    for (const s of sinks) await s.start();
    const ns = t.topology.namespace;
    const expected: Record<string, number> = {
      raw_crm: ledger.bySource.get('crm')!.raw,
      raw_web: ledger.bySource.get('web')!.raw,
      raw_commerce: 1,
      raw_commerce_product: 1,
      quarantine: ledger.total.dead_letter,
      near_duplicates: ledger.total.near_duplicates,
    };
    for (const [table, n] of Object.entries(expected)) {
      if (n === 0) continue;
      await eventually(
        () => tableRows(ns, table),
        (rows) => rows >= n,
        90_000,
      );
      tables.set(table, await readTable(ns, table));
    }
  }, 240_000);

  afterAll(async () => {
    await Promise.all((sinks ?? []).map((s) => s.stop()));
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
  });

  it('names one table per layer and source, and the catalog lists them', async () => {
    expect(await catalog.listTables(t.topology.namespace)).toEqual([...tables.keys()].sort());
    expect(tables.get('raw_crm')!.spec).toContain('_received_at_day: day(');
    expect(tables.get('raw_crm')!.spec).toContain('_source: identity(');
    expect(tables.get('quarantine')!.spec).toContain('source: identity(');
  });

  it('holds every raw record once, with its key, offset and lineage', async () => {
    for (const source of ['crm', 'web']) {
      const read = tables.get(`raw_${source}`)!;
      const records = topicRecords.get(t.names.raw(source))!;
      expect(read.rows).toHaveLength(records.length);
      const positions = new Set(read.rows.map((r) => `${r._partition}/${r._offset}`));
      expect(positions.size).toBe(records.length);
      for (const m of records) {
        const row = read.rows.find((r) => r._key === m.key!.toString() && String(r._offset) === m.offset);
        expect(row, `${source} ${m.key}`).toBeDefined();
        expect(row).toMatchObject({ _source: source, _ingest_id: m.headers![HEADER.ingestId]!.toString() });
        // Timestamps are Iceberg's timestamptz: the instant the record was received, to the millisecond.
        expect(Date.parse(String(row!._received_at))).toBe(Date.parse(m.headers![HEADER.receivedAt]!.toString()));
      }
    }
    const [product] = tables.get('raw_commerce_product')!.rows;
    expect(product).toMatchObject({ product_id: 'P-1', price: '19.90', _source: 'commerce' });
    const [tx] = tables.get('raw_commerce')!.rows;
    expect(tx).toMatchObject({ transaction_id: 'T-9001', total_amount: '59.90' });
    expect((tx!.line_items as Array<Record<string, unknown>>)[1]).toMatchObject({ unit_price: '20.00' });
  });

  it('keeps in each snapshot summary the offset every partition has reached', async () => {
    for (const source of ['crm', 'web']) {
      const read = tables.get(`raw_${source}`)!;
      const current = read.snapshots.find((s) => s.id === read.current)!;
      const offsets = JSON.parse(current.summary[`c360.offsets.${t.names.raw(source)}`]!) as Record<string, number>;
      // Each partition's next offset is one past the last record of it in the table.
      const last = new Map<number, number>();
      for (const r of read.rows) last.set(Number(r._partition), Math.max(last.get(Number(r._partition)) ?? -1, Number(r._offset)));
      expect(Object.fromEntries(Object.entries(offsets).map(([p, o]) => [p, o - 1]))).toEqual(Object.fromEntries([...last].map(([p, o]) => [String(p), o])));
      expect(read.snapshots.every((s) => s.operation === 'append')).toBe(true);
      expect(read.snapshots.length).toBeGreaterThan(2);
      expect(Number(current.summary['total-records'])).toBe(read.rows.length);
    }
  });

  it('reads the tables through c360: raw read now, at a snapshot and as of a time, decrypted; quarantine ls', async () => {
    const ns = t.topology.namespace;
    const crm = tables.get('raw_crm')!;
    const read = async (...args: string[]) => {
      const run = await runCli(['raw', 'read', '-n', ns, '--source', 'crm', ...args], TABLE_ENV);
      expect(run.code, run.output).toBe(0);
      return run.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const now = await read();
    expect(now).toHaveLength(crm.rows.length);
    // Personal fields are sealed in the table and decrypted for the reader.
    const sealedEmail = crm.rows.find((r) => r._key === now[0]!._key)!.email;
    expect(String(sealedEmail)).toMatch(/^c360e/);
    expect(String(now[0]!.email)).toMatch(/@/);
    const ordered = [...crm.snapshots].sort((a, b) => a.timestamp - b.timestamp);
    const first = ordered[0]!;
    const atFirst = await read('--snapshot', String(first.id));
    expect(atFirst).toHaveLength(Number(first.summary['total-records']));
    expect(atFirst.length).toBeLessThan(now.length);
    expect(await read('--as-of', new Date(first.timestamp).toISOString())).toHaveLength(atFirst.length);
    expect(await read('--as-of', '2000-01-01T00:00:00Z')).toHaveLength(0);
    const ls = await runCli(['quarantine', 'ls', '-n', ns], TABLE_ENV);
    expect(ls.code, ls.output).toBe(0);
    expect(ls.stdout).toMatch(/^commerce\s+\d{4}-\d{2}-\d{2} quality\.currency_invalid\s+1$/m);
    const lsJson = JSON.parse((await runCli(['quarantine', 'ls', '-n', ns, '--json'], TABLE_ENV)).stdout) as { counts: Array<Record<string, unknown>> };
    expect(lsJson.counts).toContainEqual({
      source: 'commerce',
      date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      code: 'quality.currency_invalid',
      records: 1,
    });
    const tableLs = JSON.parse((await runCli(['table', 'ls', '-n', ns, '--json'], TABLE_ENV)).stdout) as { tables: Array<Record<string, unknown>> };
    expect(tableLs.tables.find((x) => x.table === 'raw_crm')).toMatchObject({ rows: crm.rows.length, snapshots: crm.snapshots.length });
  });

  it('compacts small files into fewer, every row and offset unchanged, reads the past, and expires it', async () => {
    const ns = t.topology.namespace;
    const before = tables.get('raw_crm')!;
    const byPosition = (rows: ReadTable['rows']) =>
      [...rows].sort((a, b) => Number(a._partition) - Number(b._partition) || Number(a._offset) - Number(b._offset));
    const summaryOf = (r: ReadTable) => r.snapshots.find((s) => s.id === r.current)!.summary;
    const maintain = (...args: string[]) => runCli(['table', 'maintain', '-n', ns, '--table', 'raw_crm', '--min-files', '2', ...args], TABLE_ENV);
    const run = await maintain('--retain-days', '0', '--retain-last', '100');
    expect(run.code, run.output).toBe(0);
    const [, filesBefore, filesAfter] = /^raw_crm: (\d+) files -> (\d+) /m.exec(run.stdout)!;
    expect(Number(filesAfter)).toBeLessThan(Number(filesBefore));
    const after = await readTable(ns, 'raw_crm');
    expect(byPosition(after.rows)).toEqual(byPosition(before.rows));
    const offsetsKey = `c360.offsets.${t.names.raw('crm')}`;
    expect(after.snapshots.find((s) => s.id === after.current)!.operation).toBe('replace');
    expect(summaryOf(after)).toMatchObject({
      [offsetsKey]: summaryOf(before)[offsetsKey],
      'total-records': String(before.rows.length),
      'total-data-files': filesAfter,
    });
    // The snapshot before the compaction still reads as it was: time travel by id and by time.
    expect(byPosition((await readTable(ns, 'raw_crm', String(before.current))).rows)).toEqual(byPosition(before.rows));
    const at = before.snapshots.find((s) => s.id === before.current)!.timestamp;
    expect(byPosition((await readTable(ns, 'raw_crm', `@${at}`)).rows)).toEqual(byPosition(before.rows));
    // Expiry keeps the newest snapshot only; the table reads the same. A file a crashed sink left
    // unreferenced, and the files the compaction replaced, stay while younger than the grace.
    const location = new URL((await catalog.loadTable(ns, 'raw_crm'))!.metadata.location);
    const store = new S3Store({ bucket: location.host, prefix: location.pathname.slice(1), spoolDir: undefined, s3: { ...tableConfig.s3, timeoutMs: 30_000 } });
    const parquet = async () => (await store.list('')).filter((k) => k.endsWith('.parquet'));
    await store.putIfAbsent('data/stray-from-a-crash.parquet', Buffer.from('PAR1'));
    const stored = await parquet();
    const expiry = await maintain('--retain-days', '0', '--retain-last', '1', '--json');
    expect(expiry.code, expiry.output).toBe(0);
    expect(JSON.parse(expiry.stdout)).toEqual({
      table: 'raw_crm',
      filesBefore: Number(filesAfter),
      filesAfter: Number(filesAfter),
      rewritten: 0,
      rows: 0,
      snapshotsExpired: after.snapshots.length - 1,
      orphansRemoved: 0,
    });
    const expired = await readTable(ns, 'raw_crm');
    expect(expired.snapshots.map((s) => s.id)).toEqual([after.current]);
    expect(byPosition(expired.rows)).toEqual(byPosition(before.rows));
    expect(await parquet()).toEqual(stored);
    // Past the grace (none here), every file no snapshot names goes: the data files the table holds stay, and read the same.
    const orphans = await maintain('--orphans-older-than-days', '0', '--json');
    expect(orphans.code, orphans.output).toBe(0);
    const removed = (JSON.parse(orphans.stdout) as { orphansRemoved: number }).orphansRemoved;
    expect(await parquet()).toHaveLength(Number(filesAfter));
    expect(stored).toContain('data/stray-from-a-crash.parquet');
    expect(stored.length - Number(filesAfter)).toBeGreaterThanOrEqual(Number(filesBefore) - Number(filesAfter) + 1);
    // The replaced data files, the stray one, and the manifests and manifest lists of the expired snapshots.
    expect(removed).toBeGreaterThan(stored.length - Number(filesAfter));
    expect(byPosition((await readTable(ns, 'raw_crm')).rows)).toEqual(byPosition(before.rows));
    expect(JSON.parse((await maintain('--orphans-older-than-days', '0', '--json')).stdout)).toMatchObject({ orphansRemoved: 0 });
    store.close();
  });

  it("runs the tables' days again through today's checks into another namespace, value for value; a forget reaches the copy", async () => {
    const ns = t.topology.namespace;
    const copy = await startTopology(testNamespace());
    const sink = new SinkWorker({
      config: tableConfig,
      topology: copy.topology,
      logger,
      metrics: new Registry(),
      rotation: { maxRecords: 80, idleFlushMs: 300, rowGroupRows: 32 },
      sessionTimeoutMs: 10_000,
    });
    try {
      const day = new Date().toISOString().slice(0, 10);
      const refused = await runCli(['raw', 'rerun', '-n', ns, '--into', ns], TABLE_ENV);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim()).toBe(`c360: --into names ${ns}, the namespace read from: a re-run goes into another one.`);
      const raw = (source: string) => tables.get(`raw_${source}`)!.rows.length;
      const expected = { commerce: raw('commerce') + raw('commerce_product'), crm: raw('crm'), web: raw('web') };
      const total = expected.commerce + expected.crm + expected.web;
      const dry = await runCli(['raw', 'rerun', '-n', ns, '--into', copy.topology.namespace, '--from', day, '--to', day, '--dry-run', '--json'], TABLE_ENV);
      expect(JSON.parse(dry.stdout)).toEqual({
        into: copy.topology.namespace,
        dryRun: true,
        sent: total,
        bySource: { commerce: expected.commerce, crm: expected.crm, web: expected.web },
        forgotten: 0,
        unknownEntity: 0,
      });
      const run = await runCli(['raw', 'rerun', '-n', ns, '--into', copy.topology.namespace, '--from', day, '--to', day], TABLE_ENV);
      expect(run.code, run.output).toBe(0);
      expect(run.stdout.trim()).toBe(
        `sent ${total} record(s) into ${copy.topology.namespace} (commerce=${expected.commerce} crm=${expected.crm} web=${expected.web})`,
      );
      // Every record passed these checks once and passes them again: all land raw, none is a duplicate.
      const ledger = await waitForLedger(kafka, copy.names, (l) => l.total.in >= total, 90_000);
      expect(ledger.total).toMatchObject({ in: total, raw: total, duplicates: 0, dead_letter: 0 });
      await sink.start();
      await eventually(
        () => tableRows(copy.topology.namespace, 'raw_crm'),
        (rows) => rows >= expected.crm,
        90_000,
      );
      // Read back decrypted from both namespaces: the same records, field for field (decimals, timestamps, nested lists).
      const readAll = async (namespace: string) => {
        const out = await runCli(['raw', 'read', '-n', namespace], TABLE_ENV);
        expect(out.code, out.output).toBe(0);
        const rows = out.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        const kept = (r: Record<string, unknown>) =>
          Object.fromEntries(Object.entries(r).filter(([k]) => !['_topic', '_partition', '_offset', '_origin', '_near_duplicate', 'file'].includes(k)));
        return new Map(rows.map((r) => [String(r._ingest_id), kept(r)]));
      };
      await eventually(
        async () => (await readAll(copy.topology.namespace)).size,
        (n) => n >= total,
        60_000,
      );
      const [original, again] = [await readAll(ns), await readAll(copy.topology.namespace)];
      expect(again.size).toBe(total);
      expect([...again.keys()].sort()).toEqual([...original.keys()].sort());
      for (const [id, row] of again) expect(row, id).toEqual(original.get(id));
      const tx = [...again.values()].find((r) => r.transaction_id === 'T-9001')!;
      expect(tx).toMatchObject({ total_amount: '59.90' });
      // Forgetting a person in the namespace forgets them in its copy too.
      const person = [...again.values()].find((r) => r.source === 'crm' && typeof r.email === 'string')!;
      const forget = await runCli(['privacy', 'forget', '-n', ns, '--email', String(person.email), '--json'], TABLE_ENV);
      expect(forget.code, forget.output).toBe(0);
      const { requests } = JSON.parse(forget.stdout) as { requests: Array<{ namespace: string; subjects: number; requestId: string }> };
      expect(requests.map((r) => [r.namespace, r.subjects])).toEqual([
        [ns, 1],
        [copy.topology.namespace, 1],
      ]);
      const gone = (await readAll(copy.topology.namespace)).get(String(person._ingest_id))!;
      expect(gone).toMatchObject({ _forgotten: true, email: null });
    } finally {
      await sink.stop();
      await copy.stop();
      await clearRedis(copy.topology.namespace);
    }
  }, 300_000);

  it('puts dead letters in quarantine and flags in near_duplicates, each once', async () => {
    const q = tables.get('quarantine')!;
    expect(q.rows).toHaveLength(ledger.total.dead_letter);
    const bad = q.rows.find((r) => r.source === 'commerce')!;
    expect((bad.errors as Array<Record<string, unknown>>)[0]).toMatchObject({ code: 'quality.currency_invalid', field: 'currency' });
    if (ledger.total.near_duplicates > 0) expect(tables.get('near_duplicates')!.rows).toHaveLength(ledger.total.near_duplicates);
  });
});

describe('a contract change reaching a table', () => {
  it('adds the new column, keeps older rows readable with it empty, and quarantines a change the table cannot take', async () => {
    const ns = testNamespace();
    const topology = await loadTopology('customer360', { namespace: ns });
    await createTopologyTopics(kafka, topology, tableConfig.topics);
    await registerTopologySchemas(registry, topology, topology.sources.map(compilePrimaryEntity));
    const v1 = loadSchema('CustomerProfile').schema as Record<string, unknown> & { fields: Array<Record<string, unknown>> };
    // v2 adds a field, as a compatible contract change does; v3 turns a string column into a number, which no table can do in place.
    const v2 = { ...v1, fields: [...v1.fields, { name: 'preferred_store', type: ['null', 'string'], default: null }] };
    const v3 = { ...v1, fields: v1.fields.map((f) => (f.name === 'loyalty_tier' ? { ...f, type: ['null', 'int'], default: null } : f)) };
    const ids = await Promise.all([v1, v2, v3].map((schema, i) => registerAvro(registry, `${ns}.plain-CustomerProfile-v${i + 1}`, schema)));
    const row = (id: string, extra: Record<string, unknown> = {}) => ({
      ...crmProfile,
      customer_id: id,
      birth_date: 7395,
      updated_at: Date.UTC(2026, 10, 1),
      ...extra,
    });
    const message = (schemaIndex: number, id: string, value: Record<string, unknown>) => ({
      key: id,
      value: frame(ids[schemaIndex]!, parseType([v1, v2, v3][schemaIndex]!).toBuffer(value)),
      headers: { [HEADER.ingestId]: `id-${id}`, [HEADER.source]: 'crm', [HEADER.receivedAt]: '2026-12-06T10:00:00.000Z' },
    });
    const raw = topicNames(ns).raw('crm');
    await produce(kafka, raw, [message(0, 'C-1', row('C-1')), message(0, 'C-2', row('C-2'))]);
    const sink = new SinkWorker({ config: tableConfig, topology, logger, metrics: new Registry(), rotation: { idleFlushMs: 300 }, sessionTimeoutMs: 6_000 });
    await sink.start();
    try {
      await eventually(
        () => tableRows(ns, 'raw_crm'),
        (n) => n >= 2,
      );
      await produce(kafka, raw, [
        message(1, 'C-3', row('C-3', { preferred_store: 'Lyon' })),
        message(2, 'C-4', row('C-4', { loyalty_tier: 3 })),
        message(1, 'C-5', row('C-5', { preferred_store: null })),
      ]);
      await eventually(
        async () => (await tableRows(ns, 'raw_crm')) + (await tableRows(ns, 'quarantine')),
        (n) => n >= 5,
      );
    } finally {
      await sink.stop();
    }
    const table = await readTable(ns, 'raw_crm');
    expect(table.schema).toContain('preferred_store: optional string');
    expect(table.rows.map((r) => [r.customer_id, r.preferred_store]).sort()).toEqual([
      ['C-1', null],
      ['C-2', null],
      ['C-3', 'Lyon'],
      ['C-5', null],
    ]);
    const quarantine = await readTable(ns, 'quarantine');
    expect(quarantine.rows.map((r) => [r._key, r.stage, (r.errors as Array<{ code: string }>)[0]!.code])).toEqual([
      ['C-4', 'sink', 'decode.incompatible_schema'],
    ]);
  });
});
