// The right to erasure and access, end to end on the real stack and PostgreSQL: people ingested by
// Kafka, a file and the collector; one forgotten; what every store then holds.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, variant, webEvent } from '../../test/fixtures/records.js';
import { type DuckDb, openDuckDb } from '../../test/support/duckdb.js';
import { config, eventually, testKafka } from '../../test/support/kafka.js';
import { nearDuplicateState } from '../../test/support/near-duplicates.js';
import { json, produce, type RunningTopology, startSink, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { runCli, spawnCollector, type Worker } from '../../test/support/worker.js';
import { topicNames } from '../contracts/topic-names.js';
import { ingestFile } from '../extraction/file-ingest.js';
import { loadMappingFile } from '../extraction/mapping.js';
import { formatOf } from '../extraction/readers/index.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { compilePrimaryEntity } from '../schema/entity.js';
import type { SinkWorker } from '../sinks/sink-worker.js';
import { openObjectStore } from '../storage/backends.js';
import { identityDigest } from '../storage/near-duplicate-state.js';
import { deadLetterContract } from '../topology/setup.js';
import type { KeyStore } from './key-store.js';
import { openKeyStore } from './key-store.js';
import { pseudonymsFrom } from './pseudonyms.js';
import { RecordPrivacy } from './records.js';
import { UnidentifiedSealer } from './sealed.js';

const kafka = testKafka();
const API_KEY = 'privacy-test-key-0123456789';
const UNMASK = { C360_ALLOW_UNMASK: 'true' };
const people = [
  { id: 'C-1', email: 'ann@example.com', first: 'Ann', last: 'Lee' },
  { id: 'C-2', email: 'bob@example.com', first: 'Bob', last: 'Byrne' },
  { id: 'C-3', email: 'cara@example.com', first: 'Cara', last: 'Walsh' },
];
const profile = (p: (typeof people)[number], points = 10) =>
  variant(crmProfile, { customer_id: p.id, email: p.email, first_name: p.first, last_name: p.last, phone: null, loyalty_points: points });
const ORDERS_HEADER = 'transaction_id,customer_id,email,channel,occurred_at,currency,total_amount,line_items,status\n';
const order = (id: string, customer: string, email: string) =>
  `${id},${customer},${email},ECOMMERCE,2026-11-21T12:00:00Z,EUR,19.90,"[{""sku"":""SKU-1"",""quantity"":1,""unit_price"":""19.90""}]",COMPLETED\n`;

describe('forgetting a person across an immutable raw layer', () => {
  let t: RunningTopology;
  let ns: string;
  let root: string;
  let dir: string;
  let sink: SinkWorker;
  let collector: Worker;
  let db: DuckDb;
  let sealer: UnidentifiedSealer;
  let sealerStore: KeyStore;
  const cli = (args: string[], namespaced = true, env: Record<string, string> = {}) => runCli(namespaced ? [...args, '--namespace', ns] : args, env);
  const rawRows = async () => Number((await db.all(`select count(*)::INTEGER as n from read_parquet('${root}/raw/**/*.parquet', union_by_name = true)`))[0]!.n);
  const files = () =>
    new Map(
      (fs.readdirSync(path.join(root, 'raw'), { recursive: true }) as string[])
        .filter((f) => f.endsWith('.parquet'))
        .map((f) => [
          f,
          createHash('sha256')
            .update(fs.readFileSync(path.join(root, 'raw', f)))
            .digest('hex'),
        ]),
    );
  const quarantined = async () =>
    fs.existsSync(path.join(root, 'quarantine'))
      ? Number((await db.all(`select count(*)::INTEGER as n from read_parquet('${root}/quarantine/**/*.parquet')`))[0]!.n)
      : 0;
  const shown = async () => {
    const out = await cli(['quarantine', 'show', '--storage', root, '--unmask'], true, UNMASK);
    expect(out.code, out.output).toBe(0);
    return new Map(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { key: string; value: unknown })
        .map((r) => [r.key, r.value]),
    );
  };
  const ingestOrders = async (name: string, rows: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, ORDERS_HEADER + rows);
    return ingestFile({
      kafka,
      namespace: ns,
      entity: compilePrimaryEntity(t.topology.sources.find((s) => s.name === 'commerce')!),
      file,
      format: formatOf(file, undefined),
      mapping: loadMappingFile(undefined),
      sourceKind: 'batch',
      maxRecordBytes: t.topology.maxRecordBytes,
      store: openObjectStore(config),
      deadLetter: await deadLetterContract(config, kafka, ns),
      sealer,
    });
  };

  beforeAll(async () => {
    ns = testNamespace();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-privacy-'));
    root = path.join(dir, 'layer');
    t = await startTopology(ns);
    sealerStore = openKeyStore(config, ns);
    sealer = new UnidentifiedSealer(sealerStore, new RecordPrivacy(pseudonymsFrom(config, 'test')));
    sink = await startSink(t.topology, root);
    db = await openDuckDb();

    // Three ways in: Kafka (CRM profiles), a file (orders), the collector (web events).
    await produce(
      kafka,
      t.names.ingest('crm'),
      people.map((p) => json(profile(p), p.id)),
    );
    // Two of hers the checks reject: one decodes (a latitude out of range), one does not (broken JSON).
    await produce(kafka, t.names.ingest('web'), [
      json(variant(webEvent, { event_id: 'ev-bad', customer_id: 'C-1', email: 'ann@example.com', 'geo.latitude': 95 }), 'ev-bad'),
      { key: 'ev-broken', value: '{"event_id": "ev-broken", "email": "ann@example.com", ' },
    ]);
    // The third row cannot be mapped (its amount is not a number): dead-lettered by file ingest itself, sealed.
    await ingestOrders(
      'orders-1.csv',
      order('T-1', 'C-1', 'ann@example.com') + order('T-2', 'C-2', 'bob@example.com') + order('T-x', 'C-1', 'ann@example.com').replace('19.90,', 'lots,'),
    );
    const settings = path.join(dir, 'collector.json');
    fs.writeFileSync(settings, JSON.stringify({ apiKeys: { [API_KEY]: 'web' } }));
    const started = await spawnCollector(ns, settings);
    collector = started.worker;
    const url = started.url;
    const events = [
      variant(webEvent, { event_id: 'ev-a', customer_id: 'C-1', email: 'ann@example.com' }),
      variant(webEvent, { event_id: 'ev-c', customer_id: 'C-3', email: 'cara@example.com' }),
    ];
    const res = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify(events),
    });
    expect(res.status).toBe(200);
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 10);
    expect(ledger.total).toMatchObject({ in: 10, raw: 7, dead_letter: 3, suppressed: 0 });
    await eventually(rawRows, (n) => n === 7);
    await eventually(quarantined, (n) => n === 3);
  });

  afterAll(async () => {
    collector?.child.kill('SIGTERM');
    await sink?.stop();
    await t?.stop();
    db?.close();
    await sealerStore?.close();
  });

  const exported: Record<string, unknown>[] = [];
  let before: Map<string, string>;

  it('stores personal fields as ciphertext and everything else as it was', async () => {
    const crm = await db.all(
      `select customer_id, email, last_name, loyalty_tier from read_parquet('${root}/raw/source=crm/**/*.parquet') order by customer_id`,
    );
    expect(crm.map((r) => r.customer_id)).toEqual(['C-1', 'C-2', 'C-3']);
    for (const r of crm) {
      expect(String(r.email)).toMatch(/^c360e2\./);
      expect(String(r.last_name)).toMatch(/^c360e2\./);
      expect(r.loyalty_tier).toBe('GOLD');
    }
    const everything = JSON.stringify(await db.all(`select * from read_parquet('${root}/raw/**/*.parquet', union_by_name = true)`));
    for (const p of people) expect(everything).not.toContain(p.email);
    // Quarantine keeps her rejected records' bytes sealed too, whether they decoded or not.
    const quarantine = JSON.stringify(await db.all(`select original_value::VARCHAR as v from read_parquet('${root}/quarantine/**/*.parquet')`));
    expect(quarantine).toContain('c360e1.');
    expect(quarantine).not.toContain('ann@example.com');
  });

  it('opens quarantined values for those who may see them', async () => {
    const values = await shown();
    expect(values.get('ev-bad')).toMatchObject({ event_id: 'ev-bad', email: 'ann@example.com' });
    expect(values.get('ev-broken')).toEqual({ unparseable_bytes: expect.any(Number) });
  });

  it('opens the unmappable file row for those who may see it: its cells, under their own column names', async () => {
    const out = await cli(['quarantine', 'show', '--storage', root, '--code', 'mapping.invalid_number', '--unmask'], true, UNMASK);
    expect(out.code, out.output).toBe(0);
    expect(JSON.parse(out.stdout.trim()).value).toMatchObject({ transaction_id: 'T-x', email: 'ann@example.com', total_amount: 'lots' });
  });

  it("exports exactly one person's records, decrypted, across sources", async () => {
    const out = await cli(['privacy', 'export', '--email', 'ANN@Example.com', '--storage', root]);
    expect(out.code, out.output).toBe(0);
    exported.push(
      ...out.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
    expect(exported.map((r) => `${r.layer}:${r.source}:${r._key ?? r.key}`).sort()).toEqual([
      'quarantine:web:ev-bad',
      'raw:commerce:T-1',
      'raw:crm:C-1',
      'raw:web:ev-a',
    ]);
    for (const r of exported) expect(r.email ?? (r.value as { email: string }).email).toBe('ann@example.com');
    expect(exported.find((r) => r.source === 'crm')).toMatchObject({ first_name: 'Ann', last_name: 'Lee', customer_id: 'C-1' });
  });

  it("forgets her: her keys go, her values cannot be read, everyone else's can, and no file changes", async () => {
    before = files();
    const out = await cli(['privacy', 'forget', '--email', 'ann@example.com']);
    expect(out.code, out.output).toBe(0);
    expect(out.stdout).toMatch(
      /^request [0-9a-f-]{36}: 1 subject\(s\) forgotten, 1 key\(s\) deleted, \d+ identifier\(s\) suppressed, \d+ Redis key\(s\) changed\n$/,
    );

    const read = await cli(['raw', 'read', '--storage', root]);
    expect(read.code, read.output).toBe(0);
    const rows = read.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(7);
    const hers = rows.filter((r) => ['C-1', 'T-1', 'ev-a'].includes(String(r._key)));
    expect(hers.map((r) => [r.email, r._forgotten])).toEqual([
      [null, true],
      [null, true],
      [null, true],
    ]);
    expect(read.stdout).not.toContain('ann@example.com');
    const others = rows.filter((r) => !hers.includes(r));
    expect(others.map((r) => r.email).sort()).toEqual(['bob@example.com', 'bob@example.com', 'cara@example.com', 'cara@example.com']);
    expect(others.every((r) => r._forgotten === undefined)).toBe(true);

    // The files are the same bytes: erasure deleted a key, not data.
    expect(files()).toEqual(before);
    const verify = await cli(['raw', 'verify', '--storage', root], false);
    expect(verify.code, verify.output).toBe(0);

    // Her rejected record that decoded is forgotten with her; the one that did not is kept under its source and day's key until that goes.
    let values = await shown();
    expect(values.get('ev-bad')).toEqual({ forgotten: true });
    expect(values.get('ev-broken')).toEqual({ unparseable_bytes: expect.any(Number) });
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const shred = await cli(['privacy', 'forget-unidentified', '--before', tomorrow, '--json']);
    // Two days' keys: web's (the broken JSON) and commerce's (the unmappable file row).
    expect(JSON.parse(shred.stdout)).toEqual({ before: tomorrow, keysDeleted: 2 });
    values = await shown();
    expect(values.get('ev-broken')).toEqual({ forgotten: true });
  });

  it('leaves no trace of her in Redis', async () => {
    const records = new RecordPrivacy(pseudonymsFrom(config, 'test'));
    const identity = records.identifier('customer_id', 'C-1')!;
    const redis = new Redis(config.redisUrl);
    try {
      const keys = await redis.keys(`${ns}:*`);
      expect(keys.filter((k) => k.includes(identity))).toEqual([]);
      const state = nearDuplicateState(redis, ns, Math.round(t.topology.dedupWindowDays * 86_400_000));
      expect(await state.names(identity)).toBe(false);
      // Bob is still matched as before.
      expect(await state.hasRef(records.identifier('customer_id', 'C-2')!)).toBe(true);
      // Her entries in the near-duplicate changelog are covered by tombstones, so no rebuild brings her back.
      const hers = identityDigest(identity);
      const entries: Array<string | null> = [];
      await readToEnd(kafka, topicNames(ns).nearDuplicateChangelog, (m) => {
        if (m.key?.subarray(0, hers.length).equals(hers)) entries.push(m.value === null ? null : 'entry');
      });
      expect(entries.filter((v) => v === 'entry').length).toBeGreaterThan(0);
      expect(entries.filter((v) => v === null)).toHaveLength(5);
    } finally {
      redis.disconnect();
    }
  });

  it('suppresses what is sent of her again, counted in the ledger, while others still land', async () => {
    await produce(kafka, t.names.ingest('crm'), [json(profile(people[0]!, 99), 'C-1'), json(profile(people[1]!, 99), 'C-2')]);
    await ingestOrders('orders-2.csv', order('T-9', 'C-77', 'ANN@example.com'));
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 13);
    expect(ledger.total).toMatchObject({ in: 13, raw: 8, duplicates: 0, dead_letter: 3, suppressed: 2 });
    expect(ledger.bySource.get('crm')).toMatchObject({ suppressed: 1, raw: 4 });
    expect(ledger.bySource.get('commerce')).toMatchObject({ suppressed: 1, raw: 2 });
    await eventually(rawRows, (n) => n === 8);
    const again = await cli(['privacy', 'export', '--email', 'ann@example.com', '--storage', root]);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toBe('');
  });

  it('logs the request without personal data', async () => {
    const keyStore = openKeyStore(config, ns);
    try {
      const log = await keyStore.erasureLog();
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({ subjects: 1, keys_deleted: 1 });
      expect(JSON.stringify(log)).not.toMatch(/ann|example\.com|C-1/);
    } finally {
      await keyStore.close();
    }
  });
});
