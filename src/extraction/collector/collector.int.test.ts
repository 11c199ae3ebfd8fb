import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { variant, webEvent } from '../../../test/fixtures/records.js';
import { collect, testKafka } from '../../../test/support/kafka.js';
import { testNamespace } from '../../../test/support/topology.js';
import { spawnCollector, type Worker } from '../../../test/support/worker.js';
import { HEADER } from '../../contracts/lineage.js';
import { type TopicNames, topicNames } from '../../contracts/topic-names.js';
import { parseCollectorSettings } from './settings.js';

const kafka = testKafka();
const WEB_KEY = 'web-key-0123456789abcdef';
const SUPPORT_SECRET = 'support-secret-0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-collect-'));
const settingsFile = path.join(dir, 'collector.json');
fs.writeFileSync(settingsFile, JSON.stringify({ apiKeys: { [WEB_KEY]: 'web' }, webhookSecrets: { support: SUPPORT_SECRET }, bodyLimitBytes: 8192 }));

const startCollector = (namespace: string) => spawnCollector(namespace, settingsFile);

const event = (id: string) => variant(webEvent, { event_id: id });
const post = (url: string, body: unknown, headers: Record<string, string> = { 'x-api-key': WEB_KEY }) =>
  fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('c360 collect: events over HTTP into Kafka, acknowledged only once Kafka has them', () => {
  let ns: string;
  let names: TopicNames;
  let collector: { worker: Worker; url: string };
  let accepted = 0;

  beforeAll(async () => {
    ns = testNamespace();
    names = topicNames(ns);
    collector = await startCollector(ns);
  });

  afterAll(async () => {
    collector?.worker.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers 200 for one event or a batch, after Kafka has them, with lineage', async () => {
    const one = await post(collector.url, event('c-1'));
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual({ accepted: 1, request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const batch = await post(collector.url, { events: [event('c-2'), event('c-3')] });
    expect(await batch.json()).toMatchObject({ accepted: 2 });
    accepted += 3;
    const seen = await collect(kafka, names.ingest('web'), (s) => s.length === 3);
    const m = seen.find((x) => x.key?.toString() === 'c-2')!;
    expect(JSON.parse(m.value!.toString())).toEqual(event('c-2'));
    expect(m.headers![HEADER.sourceKind]!.toString()).toBe('stream');
    expect(JSON.parse(m.headers![HEADER.origin]!.toString())).toEqual({ request_id: expect.any(String), index: 0 });
  });

  it('answers 401 without a valid API key, 400 with a reason per bad event (sending none), 413 beyond the body limit', async () => {
    expect((await post(collector.url, event('x'), {})).status).toBe(401);
    expect((await post(collector.url, event('x'), { 'x-api-key': 'not-a-key-000000000' })).status).toBe(401);
    const bad = await post(collector.url, [event('ok-1'), { event_type: 'CLICK' }, 'text', event('ok-2')]);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      accepted: 0,
      errors: [
        { index: 1, reason: 'missing event_id, the BehavioralEvent id' },
        { index: 2, reason: 'not a JSON object' },
      ],
    });
    expect((await post(collector.url, '{"event_id": ')).status).toBe(400);
    const big = await post(collector.url, variant(webEvent, { event_id: 'big', page_url: `https://shop.example/${'x'.repeat(9000)}` }));
    expect(big.status).toBe(413);
  });

  it('takes HMAC-signed webhooks per source and refuses a bad signature', async () => {
    const body = JSON.stringify({ interaction_id: 'S-1', channel: 'EMAIL', opened_at: '2026-11-20T09:00:00Z', status: 'OPEN' });
    const sign = (secret: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const hook = (signature: string, source = 'support') =>
      fetch(`${collector.url}/v1/webhooks/${source}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-c360-signature': signature }, body });
    expect((await hook(sign(SUPPORT_SECRET))).status).toBe(200);
    expect((await hook(sign('another-secret-0123456789'))).status).toBe(401);
    expect((await hook(sign(SUPPORT_SECRET), 'crm')).status).toBe(404);
    const [m] = await collect(kafka, names.ingest('support'), (s) => s.length === 1);
    expect(m!.key!.toString()).toBe('S-1');
    expect(m!.headers![HEADER.sourceKind]!.toString()).toBe('api');
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    expect((await fetch(`${collector.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${collector.url}/readyz`)).json()).toEqual({ status: 'ready' });
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toContain('c360_collector_events_total{source="web",outcome="accepted",service="c360-ingest"} 3');
    expect(metrics).toContain('c360_collector_events_total{source="web",outcome="rejected",service="c360-ingest"} 4');
  });

  it('keeps every acknowledged event when the collector is killed right after its 2xx', async () => {
    // Small events, so 200 of them fit the 8 KiB body limit of this test's settings.
    const events = Array.from({ length: 200 }, (_, i) => ({ event_id: `k-${i}` }));
    const res = await post(collector.url, events);
    collector.worker.child.kill('SIGKILL');
    expect(JSON.stringify(events).length).toBeLessThan(8192);
    expect(res.status).toBe(200);
    accepted += 200;
    await collector.worker.exited;
    const seen: KafkaMessage[] = await collect(kafka, names.ingest('web'), (s) => s.length >= accepted);
    expect(seen.filter((m) => m.key!.toString().startsWith('k-'))).toHaveLength(200);
    // Nothing of the refused requests reached Kafka.
    expect(seen.map((m) => m.key!.toString()).filter((k) => k.startsWith('ok-') || k === 'big' || k === 'x')).toEqual([]);
    expect(seen).toHaveLength(accepted);
  });

  it('names a bad settings file in one sentence', () => {
    expect(() => parseCollectorSettings({ apiKeys: { short: 'web' } }, ['web'])).toThrow('collector settings: apiKeys must be at least 16 characters each.');
    expect(() => parseCollectorSettings({ apiKeys: { 'a-long-enough-key-123': 'nope' } }, ['web'])).toThrow(
      'collector settings: "nope" is not a source of the topology (known: web).',
    );
    expect(() => parseCollectorSettings({ rateLimit: { eventsPerSecond: 5, burst: 10 } }, ['web'])).toThrow(
      'collector settings: rateLimit.burst must be at least maxEventsPerRequest (1000), or a full request could never pass.',
    );
    expect(() =>
      parseCollectorSettings({ segmentWriteKeys: { 'a-long-enough-write-key': 'web' }, segmentOrigins: { 'another-write-key-0123': ['https://a.example'] } }, [
        'web',
      ]),
    ).toThrow('collector settings: segmentOrigins must name write keys of segmentWriteKeys.');
    expect(() =>
      parseCollectorSettings(
        { segmentWriteKeys: { 'a-long-enough-write-key': 'web' }, segmentOrigins: { 'a-long-enough-write-key': ['https://a.example/shop'] } },
        ['web'],
      ),
    ).toThrow('collector settings: segmentOrigins entry "https://a.example/shop" is not an origin (scheme://host[:port], no path).');
  });
});
