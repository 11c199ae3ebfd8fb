import { createHash, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile } from '../../test/fixtures/records.js';
import { type DuckDb, openDuckDb } from '../../test/support/duckdb.js';
import { readTable, TABLE_ENV, tableConfig } from '../../test/support/iceberg.js';
import { config, eventually, testKafka } from '../../test/support/kafka.js';
import { produce, testNamespace } from '../../test/support/topology.js';
import { spawnSink, type Worker } from '../../test/support/worker.js';
import { frame } from '../contracts/framing.js';
import { HEADER } from '../contracts/lineage.js';
import type { Long } from '../contracts/long-json.js';
import { topicNames } from '../contracts/topic-names.js';
import { RestCatalog } from '../iceberg/rest-catalog.js';
import { tableOffsets } from '../iceberg/table.js';
import { mainSnapshot } from '../iceberg/table-metadata.js';
import { loadSchema } from '../schema/avro.js';
import { compilePrimaryEntity } from '../schema/entity.js';
import { createSchemaRegistry, registerAvro } from '../schema/registry.js';
import { LocalStore } from '../storage/local-store.js';
import { loadTopology } from '../topology/load.js';
import { createTopologyTopics, registerTopologySchemas } from '../topology/setup.js';
import { verifyFolder } from './manifest.js';

const kafka = testKafka();
const RAW = 9_000;
const DEAD = 1_500;
const TRIALS = 20;
// Small files and row groups, so a kill lands mid-file, mid-publish or before a commit more often than not.
const SINK_ARGS = ['--max-records', '250', '--row-group-rows', '50', '--idle-flush-ms', '1500'];
const CRASH_POINTS = ['sink-append', 'sink-after-publish', 'sink-before-commit'];

/** Every final file and its sha256; files in the spool are not part of the layer. */
function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!fs.existsSync(root)) return files;
  for (const f of fs.readdirSync(root, { recursive: true }) as string[]) {
    if (f.startsWith('_spool') || !fs.statSync(path.join(root, f)).isFile()) continue;
    files.set(
      f,
      createHash('sha256')
        .update(fs.readFileSync(path.join(root, f)))
        .digest('hex'),
    );
  }
  return files;
}

/** A namespace whose raw crm topic and dead-letter topic hold the trials' input: RAW records over two days, DEAD dead letters. */
async function crashInput(): Promise<string> {
  const ns = testNamespace();
  const topology = await loadTopology('customer360', { namespace: ns });
  await createTopologyTopics(kafka, topology, config.topics);
  const ids = await registerTopologySchemas(createSchemaRegistry(config), topology, topology.sources.map(compilePrimaryEntity));
  // Raw records written straight, not through the topology: in plain, under a schema of their own (the raw subject's is the encrypted one).
  const plainId = await registerAvro(createSchemaRegistry(config), `${ns}.plain-CustomerProfile`, loadSchema('CustomerProfile').schema);
  const names = topicNames(ns);

  // Two ingest dates, in blocks, so files also close when a partition's records change folder.
  const lineage = (i: number, source: string): Message['headers'] => ({
    [HEADER.ingestId]: `id-${source}-${i}`,
    [HEADER.source]: source,
    [HEADER.sourceKind]: 'batch',
    [HEADER.receivedAt]: new Date(Date.UTC(2026, 10, 26 + (Math.floor(i / 700) % 2), 12, 0, 0, i)).toISOString(),
    [HEADER.origin]: JSON.stringify({ file: 'crm.csv', row: i + 2 }),
  });
  const crm = loadSchema('CustomerProfile').type;
  const raw: Message[] = [];
  for (let i = 0; i < RAW; i++) {
    const value = { ...crmProfile, customer_id: `C-${i}`, email: `c${i}@example.com`, birth_date: 7395, updated_at: Date.UTC(2026, 10, 1) + i };
    raw.push({ key: `C-${i}`, value: frame(plainId, crm.toBuffer(value)), headers: lineage(i, 'crm') });
  }
  const dl = loadSchema('DeadLetter').type;
  const dead: Message[] = [];
  for (let i = 0; i < DEAD; i++) {
    const source = i % 3 === 0 ? 'web' : 'crm';
    const record = {
      errors: [{ code: 'quality.email_invalid', field: 'email', message: 'not an email address' }],
      stage: 'quality',
      source,
      entity: 'CustomerProfile',
      original_key: Buffer.from(`D-${i}`),
      original_value: Buffer.from(`{"customer_id":"D-${i}"}`),
      original_headers: {},
      origin_topic: names.ingest(source),
      origin_partition: 0,
      origin_offset: i,
      lineage: { ingest_id: `dl-${i}`, source, source_kind: 'batch', received_at: Date.UTC(2026, 10, 27), origin: '{}' },
      failed_at: Date.UTC(2026, 10, 27),
      processor_version: 'test',
    };
    dead.push({ key: `D-${i}`, value: frame(ids.deadLetter, dl.toBuffer(record)), headers: lineage(i, source) });
  }
  for (let i = 0; i < raw.length; i += 3_000) await produce(kafka, names.raw('crm'), raw.slice(i, i + 3_000));
  await produce(kafka, names.deadLetter, dead);
  return ns;
}

/**
 * TRIALS sink workers, each SIGKILLed after `lifeMs` (2 to 5 s unless given); half of them kill themselves first at a crash
 * point of their write cycle. `check` runs after each kill. Returns where each one died.
 */
async function killTrials(
  points: string[],
  spawn: (env: Record<string, string>) => Worker,
  check: (trial: number) => void | Promise<void>,
  lifeMs: [number, number] = [2_000, 5_000],
): Promise<string[]> {
  const kills: string[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const point = trial % 2 === 0 ? `${points[(trial / 2) % points.length]}:${randomInt(1, 400)}` : undefined;
    const worker = spawn(point ? { C360_CRASH_AT: point } : {});
    const timer = setTimeout(() => worker.child.kill('SIGKILL'), randomInt(...lifeMs));
    const { signal } = await worker.exited;
    clearTimeout(timer);
    expect(signal, worker.output()).toBe('SIGKILL');
    kills.push(point ?? 'random');
    await check(trial);
  }
  return kills;
}

describe('sink workers killed with SIGKILL while they write', () => {
  let root: string;
  let ns: string;
  let db: DuckDb;
  const problems: string[] = [];

  beforeAll(async () => {
    ns = await crashInput();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-sink-crash-'));
    db = await openDuckDb();
  });

  afterAll(() => {
    db?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it(`loses nothing, duplicates nothing and never changes a final file across ${TRIALS} kills`, async () => {
    let before = snapshot(root);
    const kills = await killTrials(
      CRASH_POINTS,
      (env) => spawnSink(ns, root, env, SINK_ARGS),
      (trial) => {
        const after = snapshot(root);
        for (const [file, sha] of before) if (after.get(file) !== sha) problems.push(`trial ${trial}: ${file} changed or vanished`);
        const stray = [...after.keys()].filter((f) => !f.endsWith('.parquet') && !/\/_manifest\/[^/]+\.json$/.test(f));
        if (stray.length > 0) problems.push(`trial ${trial}: a reader can see ${stray.join(', ')}`);
        before = after;
      },
    );
    expect(kills).toHaveLength(TRIALS);
    // The killed workers did land files, so the last worker starts from a half-written layer.
    expect([...before.keys()].filter((f) => f.endsWith('.parquet')).length).toBeGreaterThan(10);

    // A last worker runs to the end, then stops gracefully.
    const last = spawnSink(ns, root, {}, SINK_ARGS);
    const count = async (layer: string) =>
      fs.existsSync(path.join(root, layer))
        ? Number((await db.all(`select count(*)::INTEGER as n from read_parquet('${root}/${layer}/**/*.parquet', hive_partitioning = true)`))[0]!.n)
        : 0;
    await eventually(
      async () => (await count('raw')) + (await count('quarantine')),
      (n) => n >= RAW + DEAD,
      120_000,
    );
    await sleep(2_000); // anything still arriving would be a duplicate
    last.child.kill('SIGTERM');
    // Code and signal both: a stop that dies by a signal (seen twice under heavy load, not reproduced alone) says which.
    expect(await last.exited, last.output()).toEqual({ code: 0, signal: null });

    const raw = await db.all(
      `select count(*)::INTEGER as n, count(distinct _key)::INTEGER as keys, count(distinct (_partition, _offset))::INTEGER as positions, count(distinct date)::INTEGER as dates from read_parquet('${root}/raw/**/*.parquet', hive_partitioning = true) where _key like 'C-%'`,
    );
    expect(raw[0]).toEqual({ n: RAW, keys: RAW, positions: RAW, dates: 2 });
    const quarantine = await db.all(
      `select source, count(*)::INTEGER as n, count(distinct _key)::INTEGER as keys from read_parquet('${root}/quarantine/**/*.parquet', hive_partitioning = true) group by source order by source`,
    );
    expect(quarantine).toEqual([
      { source: 'crm', n: DEAD - DEAD / 3, keys: DEAD - DEAD / 3 },
      { source: 'web', n: DEAD / 3, keys: DEAD / 3 },
    ]);
    const after = snapshot(root);
    for (const [file, sha] of before) if (after.get(file) !== sha) problems.push(`final run: ${file} changed or vanished`);
    const store = new LocalStore(root, undefined);
    const folders = new Set([...after.keys()].filter((f) => f.endsWith('.parquet')).map((f) => path.dirname(f)));
    for (const folder of folders) problems.push(...(await verifyFolder(store, folder)).problems.map((p) => `${folder}: ${p}`));
    expect(problems).toEqual([]);
  });
});

describe('sink workers killed with SIGKILL while they commit to Iceberg tables', () => {
  let ns: string;
  let root: string;
  const catalog = new RestCatalog(tableConfig.catalog!);

  beforeAll(async () => {
    ns = await crashInput();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-sink-crash-tables-'));
  });

  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** Per table: every snapshot by id with its manifest list, and the offsets its newest summary names. */
  async function history(): Promise<Map<string, { snapshots: Map<Long, string>; offsets: Map<number, number> }>> {
    const out = new Map<string, { snapshots: Map<Long, string>; offsets: Map<number, number> }>();
    for (const [table, topic] of [
      ['raw_crm', topicNames(ns).raw('crm')],
      ['quarantine', topicNames(ns).deadLetter],
    ] as const) {
      const loaded = await catalog.loadTable(ns, table);
      if (!loaded) continue;
      out.set(table, {
        snapshots: new Map((loaded.metadata.snapshots ?? []).map((s) => [s['snapshot-id'], s['manifest-list']])),
        offsets: tableOffsets(loaded.metadata, topic),
      });
    }
    return out;
  }

  it(`loses nothing, duplicates nothing and never rewrites a snapshot across ${TRIALS} kills`, async () => {
    const problems: string[] = [];
    let before = await history();
    const args = [...SINK_ARGS, '--ops-port', '0'];
    const kills = await killTrials(
      ['sink-append', 'sink-before-table-commit', 'sink-after-publish', 'sink-before-commit'],
      (env) => spawnSink(ns, root, { ...TABLE_ENV, ...env }, args),
      async (trial) => {
        const after = await history();
        for (const [table, was] of before) {
          const now = after.get(table);
          for (const [id, list] of was.snapshots)
            if (now?.snapshots.get(id) !== list) problems.push(`trial ${trial}: ${table} snapshot ${id} changed or vanished`);
          for (const [p, o] of was.offsets) if ((now?.offsets.get(p) ?? -1) < o) problems.push(`trial ${trial}: ${table} partition ${p} went back from ${o}`);
        }
        before = after;
      },
      // A table sink first loads or creates its tables and commits per file: it lives longer, so that most lives commit something.
      [3_000, 7_000],
    );
    expect(kills).toHaveLength(TRIALS);
    // The killed workers did commit, so the last worker starts from tables with history.
    expect(before.get('raw_crm')?.snapshots.size ?? 0).toBeGreaterThan(5);

    const last = spawnSink(ns, root, TABLE_ENV, args);
    const rows = async (table: string) => {
      const loaded = await catalog.loadTable(ns, table);
      return Number((loaded && mainSnapshot(loaded.metadata)?.summary['total-records']) ?? 0);
    };
    await eventually(
      async () => (await rows('raw_crm')) + (await rows('quarantine')),
      (n) => n >= RAW + DEAD,
      180_000,
    );
    await sleep(2_000); // anything still arriving would be a duplicate
    last.child.kill('SIGTERM');
    expect(await last.exited, last.output()).toEqual({ code: 0, signal: null });

    const raw = await readTable(ns, 'raw_crm');
    expect(raw.rows.length, last.output().slice(-3000)).toBe(RAW);
    expect(new Set(raw.rows.map((r) => r._key)).size).toBe(RAW);
    expect(new Set(raw.rows.map((r) => `${r._partition}/${r._offset}`)).size).toBe(RAW);
    expect(new Set(raw.rows.map((r) => String(r._received_at).slice(0, 10)))).toEqual(new Set(['2026-11-26', '2026-11-27']));
    const quarantine = await readTable(ns, 'quarantine');
    const bySource = (s: string) => quarantine.rows.filter((r) => r.source === s);
    expect([bySource('crm').length, bySource('web').length]).toEqual([DEAD - DEAD / 3, DEAD / 3]);
    expect(new Set(quarantine.rows.map((r) => r._key)).size).toBe(DEAD);
    // The newest summary names, per partition, one past its last record in the table.
    const offsets = tableOffsets((await catalog.loadTable(ns, 'raw_crm'))!.metadata, topicNames(ns).raw('crm'));
    const last2 = new Map<number, number>();
    for (const r of raw.rows) last2.set(Number(r._partition), Math.max(last2.get(Number(r._partition)) ?? -1, Number(r._offset)));
    expect(Object.fromEntries(offsets)).toEqual(Object.fromEntries([...last2].map(([p, o]) => [p, o + 1])));
    expect(problems).toEqual([]);
  }, 480_000);
});
