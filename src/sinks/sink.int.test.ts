import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3_URL } from '../../dev/stack/s3.js';
import { S3_BUCKET } from '../../dev/stack/versions.js';
import { crmProfile } from '../../test/fixtures/records.js';
import { asAvroValue, type DuckDb, openDuckDb } from '../../test/support/duckdb.js';
import { config, eventually, logger, testKafka } from '../../test/support/kafka.js';
import { clearRedis, mixedOutput, produce, produceMixedInput, type RunningTopology, startTopology, testNamespace } from '../../test/support/topology.js';
import { runCli, spawnCli } from '../../test/support/worker.js';
import { frame } from '../contracts/framing.js';
import type { LedgerTotals } from '../contracts/ledger.js';
import { dayOf, HEADER } from '../contracts/lineage.js';
import { topicNames } from '../contracts/topic-names.js';
import { openKeyStore } from '../privacy/key-store.js';
import { SealedOpener } from '../privacy/sealed.js';
import { loadSchema, parseType } from '../schema/avro.js';
import { compilePrimaryEntity } from '../schema/entity.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { LocalStore } from '../storage/local-store.js';
import { S3Store } from '../storage/s3-store.js';
import { loadTopology } from '../topology/load.js';
import { createTopologyTopics, registerTopologySchemas } from '../topology/setup.js';
import { verifyFolder } from './manifest.js';
import { SinkWorker } from './sink-worker.js';

const kafka = testKafka();
const registry = createSchemaRegistry(config);
const position = (topic: string, partition: number, offset: string | number) => `${topic}/${partition}/${offset}`;

const schemaCache = new Map<number, Promise<unknown>>();
function registrySchema(id: number): Promise<unknown> {
  if (!schemaCache.has(id))
    schemaCache.set(
      id,
      fetch(`${config.schemaRegistry.url}/schemas/ids/${id}`).then(async (res) => JSON.parse(((await res.json()) as { schema: string }).schema)),
    );
  return schemaCache.get(id)!;
}

describe('sink workers land the topics in the raw layer, readable by DuckDB', () => {
  let t: RunningTopology;
  let ledger: LedgerTotals;
  let root: string;
  const registries = [new Registry(), new Registry()];
  /** The partitions a worker exports lag for, as `topic[partition]`. */
  const lagOf = async (registry: Registry) =>
    ((await registry.getSingleMetric('c360_consumer_lag_records')?.get())?.values ?? []).map((v) => `${v.labels.topic}[${v.labels.partition}]`);
  let lagBeforeScaling: string[] = [];
  let sinks: SinkWorker[];
  let db: DuckDb;
  let topicRecords: Map<string, KafkaMessage[]>;
  // Each source has its own schema: an analyst reads one source's folder (or the whole layer with union_by_name).
  const glob = (layer: string) => `read_parquet('${root}/${layer}/**/*.parquet', hive_partitioning = true, union_by_name = true)`;
  const sourceGlob = (source: string, entity = '') =>
    `read_parquet('${root}/raw/source=${source}/${entity ? `entity=${entity}/` : ''}**/*.parquet', hive_partitioning = true)`;

  beforeAll(async () => {
    const ns = testNamespace();
    t = await startTopology(ns);
    // Commerce also carries the catalogue: its files get an entity= level.
    ledger = await produceMixedInput(kafka, t, 2_000);

    root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-raw-'));
    // Two workers share the partitions, as pods would; small files so every folder gets several. The second starts once the
    // first has taken batches from its partitions, as a pod the autoscaler adds does, and takes some of them over.
    sinks = registries.map(
      (metrics) =>
        new SinkWorker({
          config,
          topology: t.topology,
          logger,
          metrics,
          store: new LocalStore(root, undefined),
          rotation: { maxRecords: 150, idleFlushMs: 300, rowGroupRows: 64 },
          // Longer than KafkaJS's 5 s wait for an empty fetch, between which it heartbeats: shorter, two idle workers drop each other.
          sessionTimeoutMs: 10_000,
        }),
    );
    await sinks[0]!.start();
    lagBeforeScaling = await eventually(
      () => lagOf(registries[0]!),
      (lag) => lag.length >= 6,
    );
    await sinks[1]!.start();
    db = await openDuckDb();
    const expected = ledger.total.raw + ledger.total.dead_letter + ledger.total.near_duplicates;
    await eventually(
      async () => {
        const counts = await Promise.all(
          ['raw', 'quarantine', 'near-duplicates'].map((l) =>
            fs.existsSync(path.join(root, l)) ? db.all(`select count(*)::INTEGER as n from ${glob(l)}`) : [{ n: 0 }],
          ),
        );
        return counts.reduce((sum, [c]) => sum + Number(c!.n), 0);
      },
      (n) => n >= expected,
    );
    topicRecords = await mixedOutput(kafka, t, ledger);
  });

  afterAll(async () => {
    await Promise.all((sinks ?? []).map((s) => s.stop()));
    db?.close();
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('exports the lag of each partition from the one worker that owns it, once the second has taken some over', async () => {
    // Each worker learns of the rebalance at its own next heartbeat: wait until their views are one split of the partitions.
    const [first, second] = await eventually(
      async () => sinks.map((s) => s.worker.partitions()),
      ([a, b]) => a!.length > 0 && b!.length > 0 && !a!.some((p) => b!.includes(p)),
    );
    expect(first!.filter((p) => second!.includes(p))).toEqual([]);
    // Partitions the first worker exported lag for before the second joined, and that the group then gave to the second.
    expect(lagBeforeScaling.filter((p) => second!.includes(p)).length).toBeGreaterThan(0);
    expect((await lagOf(registries[0]!)).filter((p) => !first!.includes(p))).toEqual([]);
  });

  it('holds every raw record exactly once, with equal values and nested fields intact', async () => {
    for (const source of ['crm', 'web', 'commerce']) {
      const topic = t.names.raw(source);
      const rows = await db.all(`select * from read_parquet('${root}/raw/source=${source}/**/*.parquet', hive_partitioning = true, union_by_name = true)`);
      const records = topicRecords.get(topic)!;
      expect(rows).toHaveLength(records.length);
      expect(rows.length).toBe(ledger.bySource.get(source)!.raw);
      const byPosition = new Map(rows.map((r) => [position(String(r._topic), Number(r._partition), String(r._offset)), r]));
      expect(byPosition.size).toBe(rows.length);
      for (const m of records) {
        // Which partition a message came from is not in KafkaMessage; its offset and key are, and each key is unique here.
        const row = rows.find((r) => r._key === m.key!.toString() && r._offset === m.offset)!;
        expect(row, `${source} ${m.key} @${m.offset}`).toBeDefined();
        const writer = (await registrySchema(m.value!.readInt32BE(1))) as Record<string, unknown>;
        // Decoded with the project's decimal type, as the sink decodes: exact decimal strings.
        const expected = parseType(writer).fromBuffer(m.value!.subarray(5));
        expect(asAvroValue(writer as never, row), `${source} ${m.key}`).toEqual(JSON.parse(JSON.stringify(expected)));
        expect(row).toMatchObject({
          source,
          date: dayOf(Date.parse(m.headers![HEADER.receivedAt]!.toString())),
          _ingest_id: m.headers![HEADER.ingestId]!.toString(),
          _source: source,
        });
        expect(row.entity).toBe(m.headers![HEADER.entity]!.toString());
      }
    }
    const [tx] = await db.all(
      `select total_amount::VARCHAR as total, line_items[2].unit_price::VARCHAR as price, typeof(line_items) as t from ${sourceGlob('commerce', 'Transaction')}`,
    );
    const [product] = await db.all(`select product_id, price::VARCHAR as price, entity from ${sourceGlob('commerce', 'Product')}`);
    expect(product).toEqual({ product_id: 'P-1', price: '19.90', entity: 'Product' });
    expect(tx).toEqual({
      total: '59.90',
      price: '20.00',
      t: 'STRUCT(sku VARCHAR, product_name VARCHAR, category VARCHAR, quantity INTEGER, unit_price DECIMAL(12,2))[]',
    });
  });

  it('keeps the registered writer schema and its id in every file', async () => {
    const files = await db.all(`select distinct file_name from parquet_kv_metadata('${root}/raw/**/*.parquet')`);
    expect(files.length).toBeGreaterThan(10);
    const meta = await db.all(
      `select file_name, decode(key) as k, decode(value) as v from parquet_kv_metadata('${root}/raw/source=crm/**/*.parquet') where decode(key) like 'c360.avro.%'`,
    );
    const byFile = new Map<string, Record<string, string>>();
    for (const m of meta) byFile.set(String(m.file_name), { ...byFile.get(String(m.file_name)), [String(m.k)]: String(m.v) });
    const rawId = await registry.getLatestSchemaId(`${t.names.raw('crm')}-value`);
    for (const kv of byFile.values()) {
      expect(Number(kv['c360.avro.schema_id'])).toBe(rawId);
      expect(JSON.parse(kv['c360.avro.schema']!)).toEqual(await registrySchema(rawId));
    }
  });

  it('puts quarantined records under their source with every error and the original bytes', async () => {
    const rows = await db.all(`select source, errors, try(decode(original_value)) as original, origin_topic, _offset from ${glob('quarantine')}`);
    expect(rows).toHaveLength(ledger.total.dead_letter);
    const bySource = (s: string) => rows.filter((r) => r.source === s).length;
    expect({ crm: bySource('crm'), web: bySource('web'), commerce: bySource('commerce') }).toEqual({
      crm: ledger.bySource.get('crm')!.dead_letter,
      web: ledger.bySource.get('web')!.dead_letter,
      commerce: ledger.bySource.get('commerce')!.dead_letter,
    });
    const bad = rows.find((r) => r.source === 'commerce')!;
    expect(bad.errors).toEqual([{ code: 'quality.currency_invalid', field: 'currency', message: expect.any(String) }]);
    // The original bytes are kept sealed for their person (docs/privacy.md); the key store opens them.
    expect(String(bad.original)).toMatch(/^c360e1\./);
    const keyStore = openKeyStore(config, t.topology.namespace);
    try {
      const opened = await new SealedOpener(keyStore).open(Buffer.from(String(bad.original)));
      expect(JSON.parse(opened.value!.toString())).toMatchObject({ transaction_id: 'T-bad' });
    } finally {
      await keyStore.close();
    }
    const near = await db.all(`select count(*)::INTEGER as n from ${glob('near-duplicates')}`);
    expect(near[0]!.n).toBe(ledger.total.near_duplicates);
  });

  it('lands the same records in S3 (S3Mock), create-only, through a second sink group', async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'c360-test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'c360-test';
    const store = new S3Store({
      bucket: S3_BUCKET,
      prefix: t.topology.namespace,
      spoolDir: undefined,
      s3: { endpoint: S3_URL, forcePathStyle: true, timeoutMs: 30_000 },
    });
    const s3sink = new SinkWorker({
      config,
      topology: t.topology,
      logger,
      metrics: new Registry(),
      store,
      groupId: `${t.topology.namespace}.sink-s3`,
      rotation: { maxRecords: 400, idleFlushMs: 300 },
      sessionTimeoutMs: 3_000,
    });
    await s3sink.start();
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-s3copy-'));
    try {
      const expected = ledger.total.raw + ledger.total.dead_letter + ledger.total.near_duplicates;
      const rowsIn = async () => {
        let rows = 0;
        for (const k of (await store.list('')).filter((k) => k.includes('/_manifest/')))
          rows += (JSON.parse((await store.read(k)).toString()) as { rows: number }).rows;
        return rows;
      };
      expect(await eventually(rowsIn, (n) => n >= expected)).toBe(expected);
      // DuckDB reads S3 through an extension it would download; a copy of the objects is read instead.
      for (const key of await store.list('')) {
        fs.mkdirSync(path.dirname(path.join(copy, key)), { recursive: true });
        fs.writeFileSync(path.join(copy, key), await store.read(key));
      }
      for (const layer of ['raw', 'quarantine', 'near-duplicates']) {
        const positions = (dir: string) => `select _topic, _partition, _offset from read_parquet('${dir}/${layer}/**/*.parquet', union_by_name = true)`;
        const [diff] = await db.all(
          `select (select count(*) from (${positions(copy)} except all ${positions(root)}))::INTEGER as extra, (select count(*) from (${positions(root)} except all ${positions(copy)}))::INTEGER as missing`,
        );
        expect(diff, layer).toEqual({ extra: 0, missing: 0 });
      }
    } finally {
      await s3sink.stop();
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('has a manifest per folder that matches its files, hashes included', async () => {
    const folders = new Set<string>();
    for (const f of fs.readdirSync(root, { recursive: true }) as string[]) if (f.endsWith('.parquet')) folders.add(path.dirname(f));
    let rows = 0;
    const store = new LocalStore(root, undefined);
    for (const folder of folders) {
      const check = await verifyFolder(store, folder.split(path.sep).join('/'));
      expect(check.problems, folder).toEqual([]);
      rows += check.rows;
    }
    expect(rows).toBe(ledger.total.raw + ledger.total.dead_letter + ledger.total.near_duplicates);
    const verify = spawnCli(['raw', 'verify', '--storage', root]);
    expect((await verify.exited).code, verify.output()).toBe(0);
    expect(verify.stdout().trim().split('\n').pop()).toBe(`${folders.size} folder(s), 0 with problems`);
    const verified = await runCli(['raw', 'verify', '--storage', root, '--json']);
    expect(verified.code).toBe(0);
    const report = JSON.parse(verified.stdout) as { folders: Array<{ folder: string; files: number; rows: number; problems: string[] }> };
    expect(report.folders).toHaveLength(folders.size);
    expect(report.folders.reduce((n, f) => n + f.rows, 0)).toBe(rows);
    expect(report.folders.every((f) => f.problems.length === 0 && f.files > 0)).toBe(true);
    // Nothing half-written is visible: only Parquet files and manifest entries outside the spool.
    const visible = (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => !f.startsWith('_spool') && fs.statSync(path.join(root, f)).isFile());
    expect(visible.filter((f) => !f.endsWith('.parquet') && !/\/_manifest\/[^/]+\.json$/.test(f))).toEqual([]);
  });
});

describe('a raw record the sink cannot store', () => {
  it('goes to quarantine with a decode code and stage sink, and the partition goes on', async () => {
    const topology = await loadTopology('customer360', { namespace: testNamespace() });
    const names = topicNames(topology.namespace);
    await createTopologyTopics(kafka, topology, config.topics);
    await registerTopologySchemas(registry, topology, topology.sources.map(compilePrimaryEntity));
    // Raw records written straight, not through the topology: in plain, under a schema of their own (the raw subject's is the encrypted one).
    const plainId = await registerAvro(registry, `${topology.namespace}.plain-CustomerProfile`, loadSchema('CustomerProfile').schema);
    // A producer writing to a raw topic with a schema the raw layer cannot map (a three-way union).
    const oddId = await registerAvro(registry, `${topology.namespace}.odd-value`, {
      type: 'record',
      name: 'Odd',
      fields: [{ name: 'x', type: ['null', 'string', 'int'] }],
    });
    const crm = loadSchema('CustomerProfile').type;
    const good = { ...crmProfile, birth_date: 7395, updated_at: Date.UTC(2026, 10, 1) };
    await produce(kafka, names.raw('crm'), [
      { key: 'C-ok', value: frame(plainId, crm.toBuffer(good)) },
      {
        key: 'C-odd',
        value: frame(oddId, parseType({ type: 'record', name: 'Odd', fields: [{ name: 'x', type: ['null', 'string', 'int'] }] }).toBuffer({ x: 3 })),
      },
      { key: 'C-text', value: 'plain text' },
      { key: 'C-ok2', value: frame(plainId, crm.toBuffer({ ...good, customer_id: 'C-ok2' })) },
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-sink-odd-'));
    const sink = new SinkWorker({
      config,
      topology,
      logger,
      metrics: new Registry(),
      store: new LocalStore(dir, undefined),
      rotation: { idleFlushMs: 300 },
      sessionTimeoutMs: 3_000,
    });
    await sink.start();
    const db = await openDuckDb();
    try {
      const count = async (layer: string) =>
        fs.existsSync(path.join(dir, layer))
          ? Number((await db.all(`select count(*)::INTEGER as n from read_parquet('${dir}/${layer}/**/*.parquet')`))[0]!.n)
          : 0;
      await eventually(
        async () => (await count('raw')) + (await count('quarantine')),
        (n) => n >= 4,
      );
      expect(await db.all(`select _key from read_parquet('${dir}/raw/**/*.parquet') order by _key`)).toEqual([{ _key: 'C-ok' }, { _key: 'C-ok2' }]);
      const q = await db.all(
        `select _key, stage, errors[1].code as code, source from read_parquet('${dir}/quarantine/**/*.parquet', hive_partitioning = true) order by _key`,
      );
      expect(q).toEqual([
        { _key: 'C-odd', stage: 'sink', code: 'decode.incompatible_schema', source: 'crm' },
        { _key: 'C-text', stage: 'sink', code: 'decode.malformed', source: 'crm' },
      ]);
    } finally {
      db.close();
      await sink.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
