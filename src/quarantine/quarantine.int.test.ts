import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, variant } from '../../test/fixtures/records.js';
import { type DuckDb, openDuckDb } from '../../test/support/duckdb.js';
import { collect, eventually, testKafka } from '../../test/support/kafka.js';
import { clearRedis, json, produce, type RunningTopology, startSink, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import type { LedgerTotals } from '../contracts/ledger.js';
import { HEADER } from '../contracts/lineage.js';
import type { SinkWorker } from '../sinks/sink-worker.js';

const kafka = testKafka();

// German postal codes have five digits: these four fail the postal_code rule while it is an error.
const badPostal = (i: number) =>
  variant(crmProfile, {
    customer_id: `C-pc-${i}`,
    email: `pc${i}@example.com`,
    phone: null,
    'address.country': 'DE',
    'address.region': 'DE-BE',
    'address.postal_code': `${1000 + i}`,
  });
const badEmail = (i: number) => variant(crmProfile, { customer_id: `C-em-${i}`, email: `em${i}..x@example.com` });

describe('quarantine ls, show and replay on what the topology rejected', () => {
  let t: RunningTopology;
  let ns: string;
  let root: string;
  let sink: SinkWorker;
  let db: DuckDb;
  let before: LedgerTotals;

  const quarantined = async () =>
    fs.existsSync(path.join(root, 'quarantine'))
      ? Number((await db.all(`select count(*)::INTEGER as n from read_parquet('${root}/quarantine/**/*.parquet')`))[0]!.n)
      : 0;

  beforeAll(async () => {
    ns = testNamespace();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-quarantine-'));
    t = await startTopology(ns);
    await produce(kafka, t.names.ingest('crm'), [
      json(crmProfile, 'C-1001'),
      ...[1, 2, 3, 4].map((i) => json(badPostal(i), `C-pc-${i}`)),
      ...[1, 2].map((i) => json(badEmail(i), `C-em-${i}`)),
      { key: 'C-junk', value: 'not a record' },
    ]);
    before = await waitForLedger(kafka, t.names, (l) => l.total.in === 8);
    sink = await startSink(t.topology, root);
    db = await openDuckDb();
    await eventually(quarantined, (n) => n === 7);
  });

  afterAll(async () => {
    await sink?.stop();
    db?.close();
    await t?.stop();
    if (t) await clearRedis(ns);
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('ls counts quarantined records by source, date and error code', async () => {
    expect(before.total).toMatchObject({ in: 8, raw: 1, dead_letter: 7 });
    const { code, stdout: out } = await runCli(['quarantine', 'ls', '--storage', root]);
    expect(code, out).toBe(0);
    const today = new Date().toISOString().slice(0, 10);
    const rows = out
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual([
      ['crm', today, 'decode.malformed', '1'],
      ['crm', today, 'quality.email_invalid', '2'],
      ['crm', today, 'quality.postal_code_invalid', '4'],
    ]);
  });

  it('show prints errors and lineage with personal data masked, and unmasked only when asked', async () => {
    const masked = await runCli(['quarantine', 'show', '--storage', root, '--namespace', ns, '--code', 'quality.postal_code_invalid']);
    expect(masked.code, masked.stdout).toBe(0);
    const records = masked.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            key: string;
            errors: { code: string; field: string }[];
            lineage: { source: string; ingest_id: string };
            value: { email: string; last_name: string; address: { postal_code: string } };
          },
      );
    expect(records.map((r) => r.key).sort()).toEqual(['C-pc-1', 'C-pc-2', 'C-pc-3', 'C-pc-4']);
    const one = records.find((r) => r.key === 'C-pc-1')!;
    expect(one.errors).toEqual([{ code: 'quality.postal_code_invalid', field: 'address.postal_code', message: expect.any(String) }]);
    expect(one.lineage).toMatchObject({ source: 'crm', ingest_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    // The contract marks postal code and street personal, the city alone not (CustomerProfile.avsc).
    expect(one.value).toMatchObject({ customer_id: 'C-pc-1', email: 'p***@example.com', last_name: 'L***', address: { postal_code: '1***', city: 'Dublin' } });
    expect(masked.stdout).not.toContain('pc1@example.com');
    const unmask = ['quarantine', 'show', '--storage', root, '--namespace', ns, '--ingest-id', one.lineage.ingest_id, '--unmask'];
    // Unmasking is a permission of its own, and every use of it is recorded: who, when, what.
    const refused = await runCli(unmask);
    expect([refused.code, refused.stdout, refused.stderr]).toEqual([
      2,
      '',
      'c360: quarantine show --unmask reveals personal data: it needs C360_ALLOW_UNMASK=true, set only for those allowed to see it.\n',
    ]);
    const accessLog = ['privacy', 'access-log', '--storage', root, '--namespace', ns];
    expect((await runCli(accessLog)).stdout).toBe('');
    const unmasked = await runCli(unmask, { C360_ALLOW_UNMASK: 'true', C360_ACTOR: 'steward@example.org' });
    expect(JSON.parse(unmasked.stdout.trim())).toMatchObject({ key: 'C-pc-1', value: { email: 'pc1@example.com', address: { postal_code: '1001' } } });
    const log = (await runCli(accessLog)).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(log).toEqual([
      {
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        actor: 'steward@example.org',
        namespace: ns,
        action: 'quarantine show --unmask',
        what: { source: [], date: [], code: [], event: [], ingestId: [one.lineage.ingest_id], limit: 20 },
      },
    ]);
  });

  it('replay after a rule fix lands each fixed record exactly once, even when replayed twice', async () => {
    const refused = await runCli(['quarantine', 'replay', '--storage', root, '--namespace', ns]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe('c360: quarantine replay needs a --source, --date, --code, --event or --ingest-id filter, or --all.');

    // The fix: postal codes become a warning for this source.
    await t.stop();
    t = await startTopology(ns, (topology) => {
      for (const q of topology.sources.find((s) => s.name === 'crm')!.quality) if (q.rule === 'postal_code') q.severity = 'warn';
    });
    const first = await runCli(['quarantine', 'replay', '--storage', root, '--namespace', ns, '--code', 'quality.postal_code_invalid']);
    expect(first.stdout.trim()).toBe('replayed 4 record(s) (crm=4)');
    const afterFirst = await waitForLedger(kafka, t.names, (l) => l.total.in === 12);
    expect(afterFirst.bySource.get('crm')).toMatchObject({ in: 12, raw: 5, duplicates: 0, dead_letter: 7 });

    const second = await runCli(['quarantine', 'replay', '--storage', root, '--namespace', ns, '--code', 'quality.postal_code_invalid', '--json']);
    expect(JSON.parse(second.stdout)).toEqual({ dryRun: false, replayed: 4, skipped: 0, forgotten: 0, bySource: { crm: 4 } });
    const afterSecond = await waitForLedger(kafka, t.names, (l) => l.total.in === 16);
    expect(afterSecond.bySource.get('crm')).toMatchObject({ in: 16, raw: 5, duplicates: 4, dead_letter: 7 });

    // In raw once each, flagged with the warning, with lineage pointing at the dead-letter record.
    const raw = await collect(kafka, t.names.raw('crm'), (s) => s.length === 5);
    const replayed = raw.filter((m) => m.key!.toString().startsWith('C-pc-'));
    expect(replayed.map((m) => m.key!.toString()).sort()).toEqual(['C-pc-1', 'C-pc-2', 'C-pc-3', 'C-pc-4']);
    for (const m of replayed) {
      expect(m.headers![HEADER.qualityFlags]!.toString()).toBe('quality.postal_code_invalid');
      expect(JSON.parse(m.headers![HEADER.origin]!.toString())).toMatchObject({
        replay_of: { topic: t.names.deadLetter, partition: expect.any(Number), offset: expect.any(Number), errors: ['quality.postal_code_invalid'] },
      });
    }
    // And the sink lands them in the raw layer once each.
    const landed = await eventually(
      async () =>
        db.all(
          `select _key, count(*)::INTEGER as n from read_parquet('${root}/raw/source=crm/**/*.parquet') where _key like 'C-pc-%' group by _key order by _key`,
        ),
      (rows) => rows.length === 4,
    );
    expect(landed).toEqual([1, 2, 3, 4].map((i) => ({ _key: `C-pc-${i}`, n: 1 })));
  });
});
