// `c360 matching train` on a raw layer the real topology and sink wrote: a sample of a source's
// records, personal fields decrypted, turned into a model the topology accepts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerBase } from '../../bench/customers.js';
import { type DuckDb, openDuckDb } from '../../test/support/duckdb.js';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { json, produce, type RunningTopology, startSink, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import { matchModelSchema } from '../contracts/topology-definition.js';
import type { SinkWorker } from '../sinks/sink-worker.js';

const kafka = testKafka();
const RECORDS = 1_500;

describe('c360 matching train', () => {
  const ns = testNamespace();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-train-'));
  let t: RunningTopology;
  let sink: SinkWorker;
  let db: DuckDb;
  let landed = 0;

  beforeAll(async () => {
    t = await startTopology(ns);
    sink = await startSink(t.topology, root);
    db = await openDuckDb();
    const people = customerBase({ records: RECORDS, seed: 11 }).map((r, i) => ({
      customer_id: `K-${i}`,
      email: r.email ?? `k-${i}@example.org`,
      first_name: r.firstName ?? null,
      last_name: r.lastName ?? null,
      phone: r.phone ?? null,
      birth_date: r.birthDate ?? null,
      address: { line1: r.address ?? null, line2: null, city: 'Paris', region: null, postal_code: r.postalCode ?? null, country: 'FR' },
      loyalty_id: r.loyaltyId ?? null,
      loyalty_tier: null,
      loyalty_points: null,
      marketing_consent: null,
      updated_at: '2026-11-27T10:00:00Z',
    }));
    await produce(
      kafka,
      t.names.ingest('crm'),
      people.map((p) => json(p, p.customer_id)),
    );
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === RECORDS, 120_000);
    landed = ledger.total.raw;
    expect(landed).toBeGreaterThan(RECORDS * 0.9);
    const rows = async () =>
      Number((await db.all(`select count(*)::INTEGER as n from read_parquet('${root}/raw/source=crm/**/*.parquet')`).catch(() => [{ n: 0 }]))[0]!.n);
    await eventually(rows, (n) => n === landed);
  }, 240_000);

  afterAll(async () => {
    await sink?.stop();
    await t?.stop();
    db?.close();
  });

  it('samples the source, decrypted, and writes a model the topology accepts', async () => {
    const out = path.join(root, 'model.json');
    const run = await runCli(['matching', 'train', '--source', 'crm', '--storage', root, '--namespace', ns, '--sample', '1000', '--out', out]);
    expect(run.stderr).toContain(`trained on 1000 of ${landed} crm record(s) (0 of forgotten people skipped)`);
    expect(run.code).toBe(0);
    const model = matchModelSchema.parse(JSON.parse(fs.readFileSync(out, 'utf8')));
    // The names, birth dates and loyalty ids were read decrypted: exact agreement on them says one person.
    for (const field of ['first_name', 'birth_date', 'loyalty_id']) {
      const { m, u } = model.comparisons[field]!;
      expect(m[0]! / u[0]!).toBeGreaterThan(3);
    }
    expect(Object.keys(model.comparisons)).toContain('device_id');
  });

  it('refuses, in one sentence, to train on fewer records than --min-records', async () => {
    const run = await runCli(['matching', 'train', '--source', 'crm', '--storage', root, '--namespace', ns, '--min-records', '100000']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim()).toBe(
      `c360: the raw layer holds ${landed} readable crm record(s) (0 of forgotten people skipped); train on at least --min-records 100000.`,
    );
  });

  it('names the problem when the source has no near-duplicate settings', async () => {
    const run = await runCli(['matching', 'train', '--source', 'marketing', '--storage', root, '--namespace', ns]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('source "marketing" has no nearDuplicates settings in topology customer360');
  });
});
