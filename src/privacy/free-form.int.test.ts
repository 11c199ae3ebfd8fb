// Personal data where no contract field names it: Segment's own Node SDK sends a person's email,
// phone and name in properties, traits and page URLs, as a userId, and under anonymous ids tied to
// her later by identify and alias. Nothing of it lands in plain text; her export finds every one
// of her records, in every layer; forgetting her makes all of it unreadable, and no one else's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DuckDb, openDuckDb, plainTextIn } from '../../test/support/duckdb.js';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { clearRedis, type RunningTopology, startSink, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { runCli, spawnCollector, type Worker } from '../../test/support/worker.js';
import type { SinkWorker } from '../sinks/sink-worker.js';

const kafka = testKafka();
const WRITE_KEY = 'free-form-write-key-0123456789';
const her = { email: 'niamh.quigley@example.org', phone: '+353877654321', first: 'Niamh', last: 'Quigley' };
const him = { email: 'oisin.rafferty@example.org', first: 'Oisin', last: 'Rafferty' };

describe('personal data in free-form fields, sent by the Segment SDK', () => {
  let t: RunningTopology;
  let collector: { worker: Worker; url: string };
  let sink: SinkWorker;
  let db: DuckDb;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-free-form-'));
  const root = path.join(dir, 'layer');
  const cli = (args: string[]) => runCli([...args, '--namespace', t.topology.namespace, '--storage', root]);
  const lines = (text: string) =>
    text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    t = await startTopology(testNamespace());
    db = await openDuckDb();
    const settings = path.join(dir, 'collector.json');
    fs.writeFileSync(settings, JSON.stringify({ segmentWriteKeys: { [WRITE_KEY]: 'web' } }));
    collector = await spawnCollector(t.topology.namespace, settings);
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: collector.url, flushAt: 20, flushInterval: 200 });
    const at = (m: number) => new Date(Date.UTC(2026, 10, 20, 8, m)).toISOString();
    // Anonymous, her address only in the page's query string, her name in a search.
    analytics.page({
      anonymousId: 'anon-nq-1',
      messageId: 'nq-page',
      timestamp: at(1),
      name: 'Welcome',
      properties: { url: 'https://shop.example/welcome?email=niamh.quigley%40example.org', search: 'Niamh Quigley' },
    });
    // Anonymous on another device, her details only in properties.
    analytics.track({
      anonymousId: 'anon-nq-2',
      messageId: 'nq-form',
      timestamp: at(2),
      event: 'Form Submitted',
      properties: { email: her.email, phone: her.phone, full_name: 'Niamh Quigley' },
    });
    // Anonymous before she signs up: tied to her only by the alias below.
    analytics.page({
      anonymousId: 'anon-nq-3',
      messageId: 'nq-before',
      timestamp: at(3),
      name: 'Pricing',
      properties: { url: 'https://shop.example/pricing' },
    });
    analytics.identify({
      userId: 'C-NQ',
      anonymousId: 'anon-nq-1',
      messageId: 'nq-identify',
      timestamp: at(4),
      traits: { email: her.email, phone: her.phone, firstName: her.first, lastName: her.last },
    });
    analytics.alias({ userId: 'C-NQ', previousId: 'anon-nq-3', messageId: 'nq-alias', timestamp: at(5) });
    // An event named after her.
    analytics.track({ userId: 'C-NQ', messageId: 'nq-named', timestamp: at(6), event: `Newsletter sent to ${her.email}` });
    // A userId that is her email address.
    analytics.track({ userId: her.email, messageId: 'nq-email-id', timestamp: at(6), event: 'Plan Chosen', properties: { plan: 'gold' } });
    // Rejected by the checks (a latitude out of range): quarantined, her name inside.
    analytics.track({
      userId: 'C-NQ',
      messageId: 'nq-bad',
      timestamp: at(7),
      event: 'Store Visited',
      properties: { note: 'Niamh Quigley called in' },
      // The SDK types a location's coordinates as strings; devices send numbers.
      context: { location: { latitude: 95, longitude: 0 } as never },
    });
    // Someone else, who must stay readable.
    analytics.identify({ userId: 'C-OR', messageId: 'or-identify', timestamp: at(8), traits: { email: him.email, firstName: him.first, lastName: him.last } });
    analytics.track({ userId: 'C-OR', messageId: 'or-track', timestamp: at(9), event: 'Form Submitted', properties: { email: him.email } });
    await analytics.closeAndFlush({ timeout: 20_000 });
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 10);
    expect(ledger.total).toMatchObject({ in: 10, raw: 9, dead_letter: 1, suppressed: 0 });
    sink = await startSink(t.topology, root);
    await eventually(
      async () => plainTextIn(db, root, ['nq-bad', 'or-track']).catch(() => []),
      (found) => found.length === 2,
    );
  });

  afterAll(async () => {
    collector?.worker.child.kill('SIGTERM');
    await sink?.stop();
    await t?.stop();
    db?.close();
    if (t) await clearRedis(t.topology.namespace);
  });

  const herValues = [her.email, her.phone, '877654321', her.first, her.last, 'niamh.quigley%40example.org'];

  it('lands none of it in plain text, in any column of any layer', async () => {
    expect(await plainTextIn(db, root, [...herValues, him.email, him.last])).toEqual([]);
    const page = (await db.all(`select page_url, properties from read_parquet('${root}/raw/source=web/**/*.parquet') where event_id = 'nq-page'`))[0]!;
    expect(String(page.page_url)).toMatch(/^c360e2\./);
    expect(String(page.properties)).toMatch(/^c360e2\./);
    const emailId = (await db.all(`select customer_id from read_parquet('${root}/raw/source=web/**/*.parquet') where event_id = 'nq-email-id'`))[0]!;
    expect(String(emailId.customer_id)).toMatch(/^c360e2\./);
  });

  it('exports every record of hers — anonymous, aliased, under an email userId, quarantined — and none of his', async () => {
    const out = await cli(['privacy', 'export', '--email', 'Niamh.Quigley@Example.org']);
    expect(out.code, out.output).toBe(0);
    const rows = lines(out.stdout);
    expect(
      rows
        .map((r) => `${r.layer}:${r.event_id ?? r.ingest_id}`)
        .filter((r) => r.startsWith('raw:'))
        .sort(),
    ).toEqual(['nq-alias', 'nq-before', 'nq-email-id', 'nq-form', 'nq-identify', 'nq-named', 'nq-page'].map((id) => `raw:${id}`));
    expect(rows.filter((r) => r.layer === 'quarantine').map((r) => (r.value as { messageId?: string; event_id?: string }).event_id)).toEqual(['nq-bad']);
    expect(out.stdout).not.toContain(him.email);
    const page = rows.find((r) => r.event_id === 'nq-page')!;
    expect(page).toMatchObject({ page_url: 'https://shop.example/welcome?email=niamh.quigley%40example.org', properties: { search: 'Niamh Quigley' } });
    expect(rows.find((r) => r.event_id === 'nq-email-id')).toMatchObject({ customer_id: her.email });
    // The export is on the record: who, when, and whom (pseudonyms only).
    const log = lines((await cli(['privacy', 'access-log'])).stdout);
    expect(log.map((e) => e.action)).toEqual(['privacy export']);
    expect(JSON.stringify(log)).not.toMatch(/niamh|quigley/i);
  });

  it('forgets all of it, by her email, and nothing of his', async () => {
    const forget = await cli(['privacy', 'forget', '--email', her.email]);
    expect(forget.code, forget.output).toBe(0);
    const read = await cli(['raw', 'read']);
    expect(read.code, read.output).toBe(0);
    const rows = lines(read.stdout);
    const hers = rows.filter((r) => String(r.event_id).startsWith('nq-'));
    expect(hers.map((r) => [r.event_id, r._forgotten]).sort()).toEqual(
      ['nq-alias', 'nq-before', 'nq-email-id', 'nq-form', 'nq-identify', 'nq-named', 'nq-page'].map((id) => [id, true]),
    );
    for (const value of herValues) expect(read.stdout.toLowerCase()).not.toContain(value.toLowerCase());
    const his = rows.filter((r) => String(r.event_id).startsWith('or-'));
    expect(his.map((r) => r._forgotten)).toEqual([undefined, undefined]);
    expect(his.find((r) => r.event_id === 'or-track')).toMatchObject({ properties: { email: him.email } });
    expect((await cli(['privacy', 'export', '--email', her.email])).stdout).toBe('');
  });
});
