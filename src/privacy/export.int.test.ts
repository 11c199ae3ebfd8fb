// Access finds a person's near-duplicate events both ways: where their record is the new one (by
// the event's `_subject`) and where it is the earlier, matched one (by its ingest id).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, variant } from '../../test/fixtures/records.js';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { clearRedis, json, produce, type RunningTopology, startSink, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import type { SinkWorker } from '../sinks/sink-worker.js';

const kafka = testKafka();

describe('privacy export and near-duplicate events', () => {
  let t: RunningTopology;
  let sink: SinkWorker;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-export-'));
  const exported = async (email: string) => {
    const out = await runCli(['privacy', 'export', '--email', email, '--namespace', t.topology.namespace, '--storage', root]);
    expect(out.code, out.output).toBe(0);
    return out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  beforeAll(async () => {
    t = await startTopology(testNamespace());
    sink = await startSink(t.topology, root);
    // The same person under two customer ids and two addresses: her phone, name, birth date and home match.
    await produce(kafka, t.names.ingest('crm'), [json(variant(crmProfile, { customer_id: 'C-1', email: 'ann@example.com' }), 'C-1')]);
    await waitForLedger(kafka, t.names, (l) => l.total.in === 1);
    await produce(kafka, t.names.ingest('crm'), [json(variant(crmProfile, { customer_id: 'C-9', email: 'a.lee@work.example' }), 'C-9')]);
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 2);
    expect(ledger.total).toMatchObject({ raw: 2, near_duplicates: 1 });
    await eventually(
      async () =>
        fs.existsSync(path.join(root, 'near-duplicates')) ? (fs.readdirSync(path.join(root, 'near-duplicates'), { recursive: true }) as string[]) : [],
      (files) => files.some((f) => f.endsWith('.parquet')),
    );
  });

  afterAll(async () => {
    await sink?.stop();
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
  });

  it('includes the event whose earlier, matched record is hers, and the event whose new record is', async () => {
    const home = await exported('ann@example.com');
    expect(home.map((r) => r.layer)).toEqual(['raw', 'near-duplicates']);
    const event = home[1] as { record: { natural_id: string }; matched: { natural_id: string; ingest_id: string } };
    expect([event.record.natural_id, event.matched.natural_id]).toEqual(['C-9', 'C-1']);
    expect(event.matched.ingest_id).toBe(home[0]!._ingest_id);
    const work = await exported('a.lee@work.example');
    expect(work.map((r) => `${r.layer}:${r._key ?? (r.record as { natural_id: string }).natural_id}`)).toEqual(['raw:C-9', 'near-duplicates:crm:C-9']);
  });
});
