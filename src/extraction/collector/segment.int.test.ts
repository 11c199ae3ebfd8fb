// Segment's own Node SDK (@segment/analytics-node) pointed at the collector, through the real
// topology: its calls land as behavioural events, and a batch it sends again after the collector
// died between Kafka's acknowledgement and its answer is dropped as duplicates by messageId.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, config, testKafka } from '../../../test/support/kafka.js';
import { clearRedis, type RunningTopology, readable, readableAll, startTopology, testNamespace, waitForLedger } from '../../../test/support/topology.js';
import { spawnCollector, type Worker } from '../../../test/support/worker.js';
import { HEADER } from '../../contracts/lineage.js';
import { createSchemaRegistry } from '../../schema/registry.js';

const kafka = testKafka();
const registry = createSchemaRegistry(config);
const WRITE_KEY = 'segment-write-key-0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-segment-'));
const settingsFile = path.join(dir, 'collector.json');
fs.writeFileSync(settingsFile, JSON.stringify({ segmentWriteKeys: { [WRITE_KEY]: 'web' } }));

const sdk = (host: string, flushAt: number) =>
  new Analytics({ writeKey: WRITE_KEY, host, flushAt, flushInterval: 200, maxRetries: 20, httpRequestTimeout: 5_000 });

type WebRecord = Record<string, unknown> & { event_id: string; properties: Record<string, string>; traits: Record<string, string> | null };

describe('a Segment SDK sending to the collector, unchanged but for its host', () => {
  let t: RunningTopology;
  let collector: { worker: Worker; url: string };
  const delivered: string[] = [];

  beforeAll(async () => {
    t = await startTopology(testNamespace());
  });

  afterAll(async () => {
    collector?.worker.child.kill('SIGKILL');
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lands track, identify and page calls sent in batches as behavioural events, traits encrypted', async () => {
    collector = await spawnCollector(t.topology.namespace, settingsFile);
    const analytics = sdk(collector.url, 10);
    analytics.on('error', (err) => delivered.push(`error: ${String(err.reason ?? err)}`));
    for (let i = 0; i < 12; i++)
      analytics.track({ userId: `C-${i}`, event: 'Order Completed', properties: { order_id: `O-${i}`, total: 19.9 + i, coupon: null } });
    for (let i = 0; i < 5; i++) analytics.identify({ userId: `C-${i}`, traits: { email: `person${i}@example.com`, name: `Person ${i}`, plan: 'gold' } });
    for (let i = 0; i < 3; i++)
      analytics.page({
        anonymousId: `anon-${i}`,
        name: 'Pricing',
        properties: { url: `https://shop.example/pricing?${i}`, referrer: 'https://search.example/' },
        context: { userAgent: 'Mozilla/5.0', location: { country: 'France', city: 'Paris' } },
      });
    await analytics.closeAndFlush();
    expect(delivered).toEqual([]);

    const ledger = await waitForLedger(kafka, t.names, (l) => (l.bySource.get('web')?.in ?? 0) === 20);
    expect(ledger.bySource.get('web')).toMatchObject({ in: 20, raw: 20, duplicates: 0, dead_letter: 0 });
    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === 20);
    const records = await Promise.all(
      raw.map(async (m) => ({
        record: (await readable(t.topology.namespace, 'web', 'BehavioralEvent', (await registry.decode(m.value!)) as Record<string, unknown>)) as WebRecord,
        origin: JSON.parse(m.headers![HEADER.origin]!.toString()) as Record<string, unknown>,
      })),
    );
    const byType = (type: string) => records.filter((r) => r.record.event_type === type);
    expect(byType('TRACK')).toHaveLength(12);
    expect(byType('IDENTIFY')).toHaveLength(5);
    expect(byType('PAGE_VIEW')).toHaveLength(3);

    const track = byType('TRACK').find((r) => r.record.customer_id === 'C-3')!;
    expect(track.record).toMatchObject({ event_name: 'Order Completed', anonymous_id: null, traits: null });
    expect(track.record.properties).toEqual({ order_id: 'O-3', total: '22.9', coupon: 'null' });
    // The SDK's messageId is the event id, the key the topology dedups by.
    expect(track.record.event_id).toMatch(/^node-next-\d+-/);
    expect(track.origin).toMatchObject({ type: 'track', library: '@segment/analytics-node', clock_skew_ms: expect.any(Number) });

    const identify = byType('IDENTIFY').find((r) => r.record.customer_id === 'C-2')!;
    expect(identify.record).toMatchObject({ email: 'person2@example.com', traits: { email: 'person2@example.com', name: 'Person 2', plan: 'gold' } });
    // Traits are personal: the raw topic holds them only as ciphertext.
    const rawIdentify = raw.find((m) => m.value!.includes(Buffer.from(identify.record.event_id)))!;
    expect(rawIdentify.value!.includes(Buffer.from('Person 2'))).toBe(false);

    const page = byType('PAGE_VIEW').find((r) => r.record.anonymous_id === 'anon-1')!;
    expect(page.record).toMatchObject({
      event_name: 'Pricing',
      page_url: 'https://shop.example/pricing?1',
      referrer: 'https://search.example/',
      device: { platform: 'web', user_agent: 'Mozilla/5.0', device_id: null },
      // A country name is not an ISO code: kept in properties, not guessed.
      geo: { country: null, city: 'Paris' },
    });
    expect(page.record.properties['context.location.country']).toBe('France');
  });

  it('refuses a wrong write key with 401 and a call it cannot read with 400, as Segment clients expect', async () => {
    const post = (url: string, body: unknown, key = WRITE_KEY) =>
      fetch(`${collector.url}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
        body: JSON.stringify(body),
      });
    const wrong = await post('/v1/track', { userId: 'x', event: 'e', messageId: 'm-1' }, 'not-the-key-0123456789');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ success: false });
    const bad = await post('/v1/batch', { batch: [{ type: 'track', messageId: 'm-2', userId: 'x', event: 'e' }, { type: 'launch', messageId: 'm-3' }, 7] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      success: false,
      errors: [
        { index: 1, reason: 'type must be one of track, identify, page, screen, group, alias' },
        { index: 2, reason: 'not a JSON object' },
      ],
    });
    const ok = await post('/v1/alias', { userId: 'C-9', previousId: 'anon-9', messageId: 'm-alias', timestamp: '2026-11-27T10:00:00.000Z' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ success: true });
  });

  it('loses no acknowledged event and lands a batch sent again once, when the collector dies before answering', async () => {
    const port = Number(new URL(collector.url).port);
    collector.worker.child.kill('SIGKILL');
    await collector.worker.exited;
    // This collector writes its third request's events to Kafka and dies before answering: the SDK sends that batch again.
    collector = await spawnCollector(t.topology.namespace, settingsFile, { C360_CRASH_AT: 'collector-after-ack:3' }, port);
    const first = collector;
    const analytics = sdk(collector.url, 25);
    const errors: string[] = [];
    analytics.on('error', (err) => errors.push(String(err.reason ?? err)));
    const EVENTS = 500;
    for (let i = 0; i < EVENTS; i++) analytics.track({ userId: `K-${i % 50}`, event: 'Product Viewed', properties: { sku: `SKU-${i}` } });
    const flushed = analytics.closeAndFlush({ timeout: 120_000 });
    await first.worker.exited;
    // Restarted on the same port, as a pod behind its Service would be; the SDK retries into it.
    collector = await spawnCollector(t.topology.namespace, settingsFile, {}, port);
    await flushed;
    expect(errors).toEqual([]);

    // Every record the collectors wrote (the ingest topic's end offsets: an idempotent producer writes no markers), counted in.
    const admin = kafka.admin();
    await admin.connect();
    const written = (await admin.fetchTopicOffsets(t.names.ingest('web'))).reduce((n, p) => n + Number(p.high), 0);
    await admin.disconnect();
    const skus = (await waitForLedger(kafka, t.names, (l) => (l.bySource.get('web')?.in ?? 0) === written)).bySource.get('web')!;
    // 21 from the tests above; every SKU once in raw; the batch sent again (25 events at least) dropped as duplicates.
    expect(skus.raw).toBe(21 + EVENTS);
    expect(skus.dead_letter).toBe(0);
    expect(skus.duplicates).toBeGreaterThanOrEqual(25);
    expect(skus.in).toBe(skus.raw + skus.duplicates);
    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === 21 + EVENTS);
    const stored = await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record<string, unknown>));
    const viewed = ((await readableAll(t.topology.namespace, 'web', 'BehavioralEvent', stored)) as WebRecord[]).filter(
      (r) => r.event_name === 'Product Viewed',
    );
    expect(new Set(viewed.map((r) => r.properties.sku)).size).toBe(EVENTS);
  }, 180_000);
});
