// Forgetting people while their records flow through several workers (real `c360 run` processes,
// PostgreSQL, Kafka): once `privacy forget` returns, nothing of theirs is stored readable, whether
// it had landed, was in flight between the stages, or was sent later.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, variant } from '../../test/fixtures/records.js';
import { type DuckDb, openDuckDb, plainTextIn } from '../../test/support/duckdb.js';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { clearRedis, json, ledgerNow, produce, startSink, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { type CliRun, runCli, spawnWorker, type Worker } from '../../test/support/worker.js';
import { loadConfig } from '../config.js';
import { topicNames } from '../contracts/topic-names.js';
import type { SinkWorker } from '../sinks/sink-worker.js';
import { loadTopology } from '../topology/load.js';
import { openRawLayer, readRawLayer } from './raw-reader.js';

const kafka = testKafka();
const ROWS = 1_500;
const CHUNK = 200;
const people = ['Aoife Brennan', 'Ciaran Doyle', 'Eimear Fahy', 'Gearoid Hynes', 'Iseult Joyce', 'Lorcan Kinsella'].map((name, i) => {
  const [first, last] = name.split(' ') as [string, string];
  return {
    id: `R-${i}`,
    first,
    last,
    email: `${first.toLowerCase()}.${last.toLowerCase()}@example.net`,
    national: `085 123 45${60 + i}`,
    e164: `+35385123456${i}`,
  };
});
// Four are forgotten mid-flow, each by another kind of identifier (a national phone number among them); two stay.
const forgotten = people.slice(0, 4);
const kept = people.slice(4);
const byHow = [
  ['--email', forgotten[0]!.email.toUpperCase()],
  ['--customer-id', forgotten[1]!.id],
  ['--phone', forgotten[2]!.national],
  ['--email', forgotten[3]!.email],
];

describe('forget racing ingest across workers', () => {
  const ns = testNamespace();
  const names = topicNames(ns);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-race-'));
  const workers: Worker[] = [];
  let sink: SinkWorker;
  let db: DuckDb;
  let forgetsDoneAtIn = 0;

  beforeAll(async () => {
    db = await openDuckDb();
    // Small fetches make many small batches, so the erasure meets records at every stage.
    for (let i = 0; i < 3; i++) workers.push(spawnWorker(ns, {}, ['--max-batch-bytes', '16384']));
    const admin = kafka.admin();
    await admin.connect();
    try {
      await eventually(
        async () => (await admin.listTopics()).includes(names.ingest('crm')),
        (ok) => ok,
      );
    } finally {
      await admin.disconnect();
    }
    await sleep(3_000);
  });

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await sink?.stop();
    db?.close();
    await clearRedis(ns);
  });

  const forgetAll = () =>
    Promise.all(
      byHow.map(([option, value]) => runCli(['privacy', 'forget', option!, value!, '--namespace', ns, '--storage', root], { C360_PHONE_REGION: 'IE' })),
    );

  it('lands nothing readable of the forgotten, and everything of the others', async () => {
    const rows = people.flatMap((p) =>
      Array.from({ length: ROWS }, (_, k) =>
        json(variant(crmProfile, { customer_id: p.id, email: p.email, first_name: p.first, last_name: p.last, phone: p.national, loyalty_points: k }), p.id),
      ),
    );
    // Interleaved, so every person's rows flow from first chunk to last — except two of the forgotten, whose rows
    // start only as the erasures are asked for: those meet records that no link ties to them yet.
    const late = new Set([forgotten[2]!.id, forgotten[3]!.id]);
    const at = (i: number) => (i % ROWS) + (late.has(people[Math.floor(i / ROWS)]!.id) ? ROWS / 2 : 0);
    const messages = rows
      .map((m, i) => ({ m, at: at(i) }))
      .sort((x, y) => x.at - y.at)
      .map((x) => x.m);
    const lateStart = messages.findIndex((m) => late.has(String(m.key)));
    let forgetting: Promise<CliRun[]> | undefined;
    const sending = (async () => {
      for (let i = 0; i < messages.length; i += CHUNK) {
        if (i + CHUNK > lateStart)
          forgetting ??= forgetAll().then(async (results) => {
            forgetsDoneAtIn = (await ledgerNow(kafka, names)).total.in;
            return results;
          });
        await produce(kafka, names.ingest('crm'), messages.slice(i, i + CHUNK));
        await sleep(300);
      }
    })();
    await sending;
    const results = await forgetting!;
    for (const r of results) expect(r.code, r.output).toBe(0);
    // Those whose records had landed lose their key; the others may have had none yet.
    for (const r of results.slice(0, 2)) expect(r.stdout).toMatch(/: 1 subject\(s\) forgotten, 1 key\(s\) deleted,/);
    for (const r of results.slice(2)) expect(r.stdout).toMatch(/: [01] subject\(s\) forgotten, [01] key\(s\) deleted,/);

    const ledger = await waitForLedger(kafka, names, (l) => l.total.in === messages.length, 120_000);
    // The erasures met records still on their way: some were suppressed, and all the others' landed.
    expect(forgetsDoneAtIn).toBeLessThan(messages.length);
    expect(ledger.total.dead_letter).toBe(0);
    expect(ledger.total.raw + ledger.total.suppressed + ledger.total.duplicates).toBe(messages.length);
    expect(ledger.total.suppressed).toBeGreaterThan(0);

    const topology = await loadTopology('customer360', { namespace: ns });
    sink = await startSink(topology, root);
    await eventually(
      async () => Number((await db.all(`select count(*)::INTEGER as n from read_parquet('${root}/raw/**/*.parquet')`).catch(() => [{ n: 0 }]))[0]!.n),
      (n) => n === ledger.total.raw,
      120_000,
    );

    // Every landed row, as one allowed to decrypt reads it.
    const layer = openRawLayer(loadConfig({ ...process.env, C360_STORAGE_URL: root }), topology, 'test');
    const seen = new Map<string, { readable: number; unreadable: number }>();
    try {
      for await (const row of readRawLayer(layer)) {
        const id = String(row.record.customer_id);
        const s = seen.get(id) ?? { readable: 0, unreadable: 0 };
        if (row.forgotten) {
          expect(row.record).toMatchObject({ email: null, first_name: null, last_name: null, phone: null });
          s.unreadable++;
        } else {
          expect(row.record.email).toBe(people.find((p) => p.id === id)!.email);
          s.readable++;
        }
        seen.set(id, s);
      }
    } finally {
      await layer.close();
    }
    for (const p of forgotten) expect(seen.get(p.id)?.readable ?? 0, `${p.id} readable rows`).toBe(0);
    for (const p of kept) expect(seen.get(p.id), `${p.id}`).toEqual({ readable: ROWS, unreadable: 0 });
    // Nothing of theirs in plain text anywhere in the layer, in any column.
    expect(
      await plainTextIn(
        db,
        root,
        forgotten.flatMap((p) => [p.email, p.e164, p.national, p.first, p.last]),
      ),
    ).toEqual([]);
    expect(await plainTextIn(db, root, [kept[0]!.email])).toEqual([]);
  });
});
