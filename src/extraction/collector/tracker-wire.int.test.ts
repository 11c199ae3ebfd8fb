// The wire formats of the tracking SDKs, as they send them: analytics.js's short paths and text/plain
// bodies behind a CORS preflight from the page's origin, mobile gzip batches, the settings the
// snippet fetches at load; RudderStack's source config and beacon; Snowplow's tp2 POST and pixel
// GET; and the calls whose values cannot be taken as they are, refused with a reason instead of
// changed. Real collector, topology and Kafka.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, config, testKafka } from '../../../test/support/kafka.js';
import { clearRedis, type RunningTopology, readableAll, startTopology, testNamespace, waitForLedger } from '../../../test/support/topology.js';
import { spawnCollector, type Worker } from '../../../test/support/worker.js';
import { createSchemaRegistry } from '../../schema/registry.js';

const kafka = testKafka();
const WRITE_KEY = 'wire-write-key-0123456789';
const OTHER_KEY = 'wire-other-key-0123456789';
const APP = 'wire-shop';
const PAGE = 'http://shop.127.0.0.1.nip.io:8080';
const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

describe('the wire formats of the browser and mobile tracking SDKs', () => {
  let t: RunningTopology;
  let collector: { worker: Worker; url: string };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-wire-'));
  const send = (route: string, body: Buffer | string, headers: Record<string, string>) =>
    fetch(`${collector.url}${route}`, { method: 'POST', headers: { authorization: basic(WRITE_KEY), ...headers }, body });
  const call = (id: string, extra: Record<string, unknown> = {}) => ({
    messageId: id,
    anonymousId: 'anon-wire',
    timestamp: '2026-12-01T10:00:00.000Z',
    event: 'Clicked',
    properties: { button: 'buy' },
    ...extra,
  });

  beforeAll(async () => {
    t = await startTopology(testNamespace());
    const settings = path.join(dir, 'collector.json');
    fs.writeFileSync(
      settings,
      JSON.stringify({
        segmentWriteKeys: { [WRITE_KEY]: 'web', [OTHER_KEY]: 'web' },
        segmentOrigins: { [WRITE_KEY]: [PAGE] },
        snowplowAppIds: { [APP]: 'web', [`${APP}-2`]: 'web' },
        snowplowOrigins: { [APP]: [PAGE] },
        bodyLimitBytes: 65_536,
      }),
    );
    collector = await spawnCollector(t.topology.namespace, settings);
  });

  afterAll(async () => {
    collector?.worker.child.kill('SIGTERM');
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers the preflight of a page from an allowed origin, and refuses any other origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${collector.url}/v1/t`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const ok = await preflight(PAGE);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ok.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    expect(ok.headers.get('access-control-allow-headers')?.split(', ')).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'anonymousid', 'sentat']),
    );
    const other = await preflight('http://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('takes the short paths as text/plain from the page, gzip and deflate batches from an app, and lands each call once', async () => {
    const fromPage = { origin: PAGE, 'content-type': 'text/plain' };
    const calls = [
      await send('/v1/t', JSON.stringify(call('w-track')), fromPage),
      await send('/v1/p', JSON.stringify({ ...call('w-page'), name: 'Home', event: undefined }), fromPage),
      await send('/v1/i', JSON.stringify({ ...call('w-identify'), userId: 'C-W', traits: { plan: 'gold' } }), fromPage),
      await send('/v1/g', JSON.stringify({ ...call('w-group'), groupId: 'G-1' }), fromPage),
      await send('/v1/a', JSON.stringify({ ...call('w-alias'), userId: 'C-W', previousId: 'anon-wire' }), fromPage),
      await send('/v1/s', JSON.stringify({ ...call('w-screen'), name: 'Cart' }), fromPage),
      await send(
        '/v1/b',
        JSON.stringify({
          batch: [
            { ...call('w-b1'), type: 'track' },
            { ...call('w-b2'), type: 'track' },
          ],
        }),
        fromPage,
      ),
      await send('/v1/b', gzipSync(JSON.stringify({ batch: [{ ...call('w-gz'), type: 'track' }] })), {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      }),
      await send('/v1/batch', deflateSync(JSON.stringify({ batch: [{ ...call('w-df'), type: 'track' }] })), {
        'content-type': 'application/json',
        'content-encoding': 'deflate',
      }),
    ];
    expect(calls.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200]);
    expect(calls[0]!.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(await calls[0]!.json()).toEqual({ success: true });
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 10);
    expect(ledger.total).toMatchObject({ in: 10, raw: 10, duplicates: 0, dead_letter: 0 });
    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === 10);
    const registry = createSchemaRegistry(config);
    const stored = await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record<string, unknown>));
    const records = await readableAll(t.topology.namespace, 'web', 'BehavioralEvent', stored);
    expect(records.map((r) => [r.event_id, r.event_type]).sort()).toEqual([
      ['w-alias', 'ALIAS'],
      ['w-b1', 'TRACK'],
      ['w-b2', 'TRACK'],
      ['w-df', 'TRACK'],
      ['w-group', 'GROUP'],
      ['w-gz', 'TRACK'],
      ['w-identify', 'IDENTIFY'],
      ['w-page', 'PAGE_VIEW'],
      ['w-screen', 'SCREEN_VIEW'],
      ['w-track', 'TRACK'],
    ]);
  });

  it('refuses a page of another origin, a body that decompresses past the limit, and an encoding it cannot read', async () => {
    const elsewhere = await send('/v1/t', JSON.stringify(call('w-evil')), { origin: 'http://evil.example', 'content-type': 'text/plain' });
    expect(elsewhere.status).toBe(403);
    // A key with no origins listed is for servers and apps: a page may not use it.
    const unlisted = await fetch(`${collector.url}/v1/t`, {
      method: 'POST',
      headers: { authorization: basic(OTHER_KEY), origin: PAGE, 'content-type': 'text/plain' },
      body: JSON.stringify(call('w-unlisted')),
    });
    expect(unlisted.status).toBe(403);
    const bomb = gzipSync(Buffer.from(JSON.stringify({ batch: [{ ...call('w-bomb'), type: 'track', properties: { pad: 'x'.repeat(1_000_000) } }] })));
    expect(bomb.length).toBeLessThan(65_536);
    const big = await send('/v1/b', bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { message: string }).message).toBe('the body is over 65536 bytes once decompressed');
    const broken = await send('/v1/b', Buffer.from('not gzip at all'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(broken.status).toBe(400);
    const brotli = await send('/v1/b', Buffer.from('{}'), { 'content-type': 'application/json', 'content-encoding': 'br' });
    expect(brotli.status).toBe(415);
    // The native endpoint still takes JSON only.
    const native = await fetch(`${collector.url}/v1/events`, { method: 'POST', headers: { 'x-api-key': WRITE_KEY, 'content-type': 'text/plain' }, body: '{}' });
    expect(native.status).toBe(415);
  });

  it('serves the settings the snippet loads, pointing it at the collector', async () => {
    const res = await fetch(`${collector.url}/v1/projects/${WRITE_KEY}/settings`, { headers: { origin: PAGE } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    const host = new URL(collector.url).host;
    expect(((await res.json()) as { integrations: Record<string, unknown> }).integrations['Segment.io']).toMatchObject({
      apiKey: WRITE_KEY,
      apiHost: `${host}/v1`,
      protocol: 'http',
    });
    expect((await fetch(`${collector.url}/v1/projects/no-such-key-0123456789/settings`)).status).toBe(404);
  });

  it('refuses, with a reason, values it would otherwise change: a userId that is no id, a timestamp in epoch numbers', async () => {
    const refused = async (body: Record<string, unknown>) => {
      const res = await send('/v1/track', JSON.stringify(body), { 'content-type': 'application/json' });
      return [res.status, ((await res.json()) as { errors?: Array<{ reason: string }> }).errors?.[0]?.reason];
    };
    expect(await refused(call('w-obj', { userId: { id: 7 } }))).toEqual([400, 'userId must be a string or a number, not an object']);
    expect(await refused(call('w-arr', { userId: ['C-1'] }))).toEqual([400, 'userId must be a string or a number, not an array']);
    expect(await refused(call('w-bool', { userId: true }))).toEqual([400, 'userId must be a string or a number, not a boolean']);
    expect(await refused(call('w-epoch', { timestamp: 1_764_583_200 }))).toEqual([
      400,
      'timestamp must be an ISO 8601 string; a number could be seconds or milliseconds',
    ]);
  });

  it('keeps a property named __proto__ as a property', async () => {
    const body = JSON.parse(`{"messageId":"w-proto","anonymousId":"anon-wire","event":"Odd","properties":{"__proto__":"kept","constructor":"too"}}`);
    const res = await send('/v1/track', JSON.stringify(body), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    await waitForLedger(kafka, t.names, (l) => l.total.in === 11);
    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === 11);
    const registry = createSchemaRegistry(config);
    const stored = await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record<string, unknown>));
    const proto = (await readableAll(t.topology.namespace, 'web', 'BehavioralEvent', stored)).find((r) => r.event_id === 'w-proto')!;
    expect(Object.entries(proto.properties as Record<string, string>)).toEqual([
      ['__proto__', 'kept'],
      ['constructor', 'too'],
    ]);
  });

  it('drops a resend without a timestamp as a duplicate, and corrects a fast device clock by sentAt instead of dead-lettering it', async () => {
    const json = { 'content-type': 'application/json' };
    const resend = { messageId: 'w-retry', anonymousId: 'anon-wire', event: 'No Time' };
    expect((await send('/v1/track', JSON.stringify({ ...resend, sentAt: new Date().toISOString() }), json)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect((await send('/v1/track', JSON.stringify({ ...resend, sentAt: new Date().toISOString() }), json)).status).toBe(200);
    // A device an hour ahead stamps its event and its send on its own clock.
    const hourAhead = new Date(Date.now() + 3_600_000).toISOString();
    expect((await send('/v1/track', JSON.stringify({ ...call('w-fast'), timestamp: hourAhead, sentAt: hourAhead }), json)).status).toBe(200);
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 14);
    expect(ledger.total).toMatchObject({ in: 14, raw: 13, duplicates: 1, dead_letter: 0 });
    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === 13);
    const registry = createSchemaRegistry(config);
    const fast = (await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record<string, unknown>))).find((r) => r.event_id === 'w-fast')!;
    expect(Math.abs(Number(fast.occurred_at) - Date.now())).toBeLessThan(60_000);
  });

  it("keeps the client's address, locale, campaign and consent; X-Forwarded-For only from a trusted proxy", async () => {
    const json = { 'content-type': 'application/json' };
    const context = {
      locale: 'ga-IE',
      campaign: { name: 'winter', source: 'news', medium: 'email', term: null, content: 'hero' },
      consent: { categoryPreferences: { Analytics: true, Advertising: false } },
    };
    const direct = await send('/v1/track', JSON.stringify(call('w-ctx', { context })), { ...json, 'x-forwarded-for': '203.0.113.9' });
    expect(direct.status).toBe(200);
    expect((await send('/v1/track', JSON.stringify(call('w-relayed', { context: { ip: '198.51.100.4' } })), json)).status).toBe(200);
    const bad = await send('/v1/track', JSON.stringify(call('w-consent', { context: { consent: { categoryPreferences: { Analytics: 'yes' } } } })), json);
    expect([bad.status, ((await bad.json()) as { errors: Array<{ reason: string }> }).errors[0]!.reason]).toEqual([
      400,
      'context.consent.categoryPreferences.Analytics must be true or false',
    ]);
    // Behind a proxy the settings trust, its X-Forwarded-For names the client.
    const settings = path.join(dir, 'proxied.json');
    fs.writeFileSync(settings, JSON.stringify({ segmentWriteKeys: { [WRITE_KEY]: 'web' }, trustedProxies: ['127.0.0.1'] }));
    const proxied = await spawnCollector(t.topology.namespace, settings);
    try {
      const res = await fetch(`${proxied.url}/v1/track`, {
        method: 'POST',
        headers: { authorization: basic(WRITE_KEY), ...json, 'x-forwarded-for': '203.0.113.9' },
        body: JSON.stringify(call('w-proxied')),
      });
      expect(res.status).toBe(200);
    } finally {
      proxied.worker.child.kill('SIGTERM');
    }
    await waitForLedger(kafka, t.names, (l) => l.total.in === 17);
    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === 16);
    const registry = createSchemaRegistry(config);
    const stored = await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record<string, unknown>));
    const records = await readableAll(t.topology.namespace, 'web', 'BehavioralEvent', stored);
    const byId = (id: string) => records.find((r) => r.event_id === id)!;
    expect(byId('w-ctx')).toMatchObject({
      ip: '127.0.0.1',
      locale: 'ga-IE',
      campaign: { name: 'winter', source: 'news', medium: 'email', term: null, content: 'hero' },
      consent: { Analytics: true, Advertising: false },
    });
    expect(byId('w-relayed').ip).toBe('198.51.100.4');
    expect(byId('w-proxied').ip).toBe('203.0.113.9');
    // The address is personal data: sealed in raw.
    expect(String(stored.find((r) => r.event_id === 'w-ctx')!.ip)).toMatch(/^c360e2\./);
  });

  it("answers 429 with Retry-After past a key's rate limit, sends nothing of that request, and takes it once the bucket refills", async () => {
    const settings = path.join(dir, 'limited.json');
    fs.writeFileSync(
      settings,
      JSON.stringify({ segmentWriteKeys: { [WRITE_KEY]: 'web' }, maxEventsPerRequest: 10, rateLimit: { eventsPerSecond: 5, burst: 10 } }),
    );
    const limited = await spawnCollector(t.topology.namespace, settings);
    const batch = (from: number, n: number) =>
      fetch(`${limited.url}/v1/b`, {
        method: 'POST',
        headers: { authorization: basic(WRITE_KEY), 'content-type': 'application/json' },
        body: JSON.stringify({ batch: Array.from({ length: n }, (_, i) => ({ ...call(`w-rate-${from + i}`), type: 'track' })) }),
      });
    try {
      expect((await batch(0, 10)).status).toBe(200);
      const over = await batch(10, 5);
      expect(over.status).toBe(429);
      const retryAfter = Number(over.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(((await over.json()) as { message: string }).message).toBe('over the rate limit of 5 events per second for this key; retry later');
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      expect((await batch(10, 5)).status).toBe(200);
    } finally {
      limited.worker.child.kill('SIGTERM');
    }
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 32);
    expect(ledger.total).toMatchObject({ in: 32, raw: 31, duplicates: 1 });
  });

  /** The web events in raw so far, readable. */
  const landed = async (count: number) => {
    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === count);
    const registry = createSchemaRegistry(config);
    const stored = await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record<string, unknown>));
    return readableAll(t.topology.namespace, 'web', 'BehavioralEvent', stored);
  };

  it("takes Snowplow's tp2 POST and pixel GET from its app's origin, refuses other apps and origins, and a bad event with its reason", async () => {
    const tp2 = (events: Record<string, unknown>[], headers: Record<string, string> = {}) =>
      fetch(`${collector.url}/com.snowplowanalytics.snowplow/tp2`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=UTF-8', origin: PAGE, ...headers },
        body: JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: events }),
      });
    const pv = (eid: string) => ({ e: 'pv', aid: APP, eid, p: 'web', url: `${PAGE}/cart`, page: 'Cart', dtm: String(Date.now()), stm: String(Date.now()) });
    const preflight = await fetch(`${collector.url}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'OPTIONS',
      headers: { origin: PAGE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,sp-anonymous' },
    });
    expect([preflight.status, preflight.headers.get('access-control-allow-origin')]).toEqual([204, PAGE]);
    expect(preflight.headers.get('access-control-allow-headers')?.split(', ')).toEqual(expect.arrayContaining(['content-type', 'sp-anonymous']));

    const unknownApp = await tp2([{ ...pv('sp-x'), aid: 'someone-else' }]);
    expect([unknownApp.status, ((await unknownApp.json()) as { error: string }).error]).toEqual([
      403,
      'every event needs an app id (aid) listed in snowplowAppIds',
    ]);
    expect((await tp2([pv('sp-evil')], { origin: 'http://evil.example' })).status).toBe(403);
    // An app without origins listed is for apps and servers, as a write key without origins is.
    expect((await tp2([{ ...pv('sp-other'), aid: `${APP}-2` }])).status).toBe(403);
    const mixed = await tp2([pv('sp-m1'), { ...pv('sp-m2'), aid: `${APP}-2` }]);
    expect([mixed.status, ((await mixed.json()) as { error: string }).error]).toEqual([400, "one request's events must all carry the same app id"]);
    const notEnvelope = await fetch(`${collector.url}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[{"e":"pv"}]',
    });
    expect(notEnvelope.status).toBe(400);
    const bad = await tp2([pv('sp-ok'), { ...pv('sp-bad'), e: 'zz' }]);
    expect([bad.status, ((await bad.json()) as { errors: unknown[] }).errors]).toEqual([
      400,
      [{ index: 1, reason: 'e must be one of pv, pp, se, ue, tr, ti' }],
    ]);

    const post = await tp2([pv('sp-post')]);
    expect([post.status, post.headers.get('access-control-allow-origin'), post.headers.get('access-control-allow-credentials')]).toEqual([200, PAGE, 'true']);
    const anonymous = await tp2([pv('sp-anon')], { 'sp-anonymous': '*' });
    expect(anonymous.status).toBe(200);
    const pixel = await fetch(`${collector.url}/i?${new URLSearchParams({ ...pv('sp-pixel'), e: 'se', se_ca: 'cart', se_ac: 'add' })}`, {
      headers: { origin: PAGE },
    });
    expect([pixel.status, pixel.headers.get('content-type')]).toEqual([200, 'image/gif']);
    expect(
      Buffer.from(await pixel.arrayBuffer())
        .subarray(0, 6)
        .toString(),
    ).toBe('GIF89a');

    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 35);
    expect(ledger.total).toMatchObject({ in: 35, raw: 34, duplicates: 1, dead_letter: 0 });
    const records = await landed(34);
    const byId = (id: string) => records.find((r) => r.event_id === id);
    expect(byId('sp-ok')).toBeUndefined();
    expect(byId('sp-post')).toMatchObject({ event_type: 'PAGE_VIEW', event_name: 'Cart', ip: '127.0.0.1', page_url: `${PAGE}/cart` });
    expect(byId('sp-anon')).toMatchObject({ event_type: 'PAGE_VIEW', ip: null });
    expect(byId('sp-pixel')).toMatchObject({ event_type: 'TRACK', event_name: 'add', properties: { category: 'cart', action: 'add' } });
  });

  it("serves RudderStack's source config and takes its beacon batch, with the write key in the query", async () => {
    const config_ = await fetch(`${collector.url}/sourceConfig/?p=npm&v=3&writeKey=${WRITE_KEY}`, { headers: { origin: PAGE } });
    expect([config_.status, config_.headers.get('access-control-allow-origin')]).toEqual([200, PAGE]);
    expect(((await config_.json()) as { source: unknown }).source).toMatchObject({ id: 'web', enabled: true, destinations: [] });
    expect((await fetch(`${collector.url}/sourceConfig/?writeKey=no-such-key-0123456789`)).status).toBe(401);
    expect((await fetch(`${collector.url}/sourceConfig/?writeKey=${WRITE_KEY}`, { headers: { origin: 'http://evil.example' } })).status).toBe(403);

    const beacon = (query: string) =>
      fetch(`${collector.url}/beacon/v1/batch${query}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain;charset=UTF-8', origin: PAGE },
        body: JSON.stringify({ batch: [{ ...call('rs-beacon'), type: 'track', context: { sessionId: 1764583200000 } }], sentAt: new Date().toISOString() }),
      });
    expect((await beacon('')).status).toBe(401);
    expect((await beacon(`?writeKey=${WRITE_KEY}`)).status).toBe(200);
    await waitForLedger(kafka, t.names, (l) => l.total.in === 36);
    expect((await landed(35)).find((r) => r.event_id === 'rs-beacon')).toMatchObject({ event_type: 'TRACK', session_id: '1764583200000' });
  });
});
