// The browser tracking SDKs, each from its npm package (no CDN), in a real headless Chromium on a page
// of another origin than the collector, its clock an hour fast: Segment's analytics.js (one request
// per call, then batched), RudderStack's JS SDK (XHR, then beacon) and Snowplow's browser tracker
// (POST, then the GET pixel). Each loads what it needs from the collector, and every event lands
// once in the raw topic, on the right hour, with the page's address, user agent, campaign and consent.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, config, testKafka } from '../../../test/support/kafka.js';
import { clearRedis, type RunningTopology, readableAll, startTopology, testNamespace, waitForLedger } from '../../../test/support/topology.js';
import { spawnCollector, type Worker } from '../../../test/support/worker.js';
import { projectRoot } from '../../contracts/project.js';
import { createSchemaRegistry } from '../../schema/registry.js';

const kafka = testKafka();
const WRITE_KEY = 'browser-write-key-0123456789';
const SNOWPLOW_APP = 'shop-web';
const CHROMIUM = process.env.C360_CHROMIUM ?? '/usr/bin/chromium';
const FAST = 3_600_000;
const modules = path.join(projectRoot(), 'node_modules');
/** Each SDK's browser build, as the npm package ships it. */
const SDK_FILES: Record<string, string> = {
  segment: path.join(modules, '@segment', 'analytics-next', 'dist', 'umd'),
  rudderstack: path.join(modules, '@rudderstack', 'analytics-js', 'dist', 'npm', 'modern', 'bundled', 'umd'),
  snowplow: path.join(modules, '@snowplow', 'browser-tracker', 'dist'),
};

type Record_ = Record<string, unknown>;

/** Each page sets `window.sent` to a promise of 'sent' once its SDK has every call queued (and, where it can say so, delivered). */
const segmentPage = (collectorUrl: string, batching: boolean, prefix: string) => `<script src="/sdk/segment/index.js"></script>
<script>
  window.sent = (async () => {
    const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
      { writeKey: ${JSON.stringify(WRITE_KEY)}, cdnURL: ${JSON.stringify(collectorUrl)} },
      ${batching ? `{ integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 5, timeout: 500 } } } } }` : '{}'},
    );
    const id = (n) => ({ messageId: '${prefix}-' + n });
    await Promise.all([
      analytics.identify('C-${prefix}', { plan: 'gold' }, id('identify')),
      analytics.page('Home', { section: 'front' }, id('page')),
      analytics.track('Clicked', { button: 'buy' }, { ...id('track'), context: { consent: { categoryPreferences: { Analytics: true, Advertising: false } } } }),
      analytics.group('G-${prefix}', { name: 'Acme' }, id('group')),
      analytics.alias('C-${prefix}', 'anon-${prefix}', id('alias')),
    ]);
    return 'sent';
  })().catch((e) => 'failed: ' + e);
</script>`;

const rudderStackPage = (collectorUrl: string, beacon: boolean, prefix: string) => `<script src="/sdk/rudderstack/index.js"></script>
<script>
  window.sent = new Promise((resolve) => {
    const analytics = new rudderanalytics.RudderAnalytics();
    analytics.load(${JSON.stringify(WRITE_KEY)}, ${JSON.stringify(collectorUrl)}, {
      configUrl: ${JSON.stringify(collectorUrl)},
      logLevel: 'ERROR',
      useBeacon: ${beacon},
      beaconQueueOptions: { maxItems: 5, flushQueueInterval: 500 },
      consentManagement: { enabled: true, provider: 'custom', allowedConsentIds: ['Analytics'], deniedConsentIds: ['Advertising'] },
    });
    analytics.ready(() => {
      analytics.identify('C-${prefix}', { plan: 'gold' });
      analytics.page('Shop', 'Home', { section: 'front' });
      analytics.track('Clicked', { button: 'buy' });
      analytics.group('G-${prefix}', { name: 'Acme' });
      analytics.alias('C-${prefix}-2');
      resolve('sent');
    });
  });
</script>`;

const snowplowPage = (collectorUrl: string, get: boolean, prefix: string) => `<script src="/sdk/snowplow/index.umd.js"></script>
<script>
  window.sent = (async () => {
    const sp = snowplowBrowserTracking;
    sp.newTracker('sp', ${JSON.stringify(collectorUrl)}, { appId: ${JSON.stringify(SNOWPLOW_APP)}, eventMethod: '${get ? 'get' : 'post'}', bufferSize: ${get ? 1 : 5} });
    sp.setUserId('C-${prefix}');
    sp.trackPageView({ title: 'Home' });
    sp.trackStructEvent({ category: 'cart', action: 'add', label: 'sku-1', value: 2 });
    sp.trackSelfDescribingEvent({
      event: { schema: 'iglu:com.acme/checkout_step/jsonschema/1-0-0', data: { step: 2, express: true, coupon: 'WINTER' } },
      context: [{ schema: 'iglu:com.acme/cart/jsonschema/1-0-0', data: { items: 3 } }],
    });
    sp.trackSelfDescribingEvent({
      event: {
        schema: 'iglu:com.snowplowanalytics.snowplow/consent_preferences/jsonschema/1-0-0',
        data: { eventType: 'allow_selected', basisForProcessing: 'consent', consentUrl: location.origin + '/privacy', consentVersion: '1', consentScopes: ['analytics'], domainsApplied: [location.hostname], gdprApplies: true },
      },
    });
    sp.trackPageView({ title: 'Cart' });
    sp.flushBuffer();
    return 'sent';
  })().catch((e) => 'failed: ' + e);
</script>`;

describe('browser tracking SDKs in a real Chromium, sending to the collector', () => {
  let t: RunningTopology;
  let collector: { worker: Worker; url: string };
  let browser: Browser;
  let server: http.Server;
  let html = '';
  const requests: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-browser-'));
  const registry = createSchemaRegistry(config);
  const pageOrigin = () => `http://localhost:${(server.address() as { port: number }).port}`;
  let landed = 0;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set C360_CHROMIUM`);
    t = await startTopology(testNamespace());
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://page');
      const [, root, sdk, file] = url.pathname.split('/');
      if (url.pathname === '/') {
        res.setHeader('content-type', 'text/html');
        res.end(`<!doctype html><html><body>${html}</body></html>`);
      } else if (root === 'sdk' && sdk && SDK_FILES[sdk] && file && fs.existsSync(path.join(SDK_FILES[sdk], path.basename(file)))) {
        res.setHeader('content-type', 'application/javascript');
        res.end(fs.readFileSync(path.join(SDK_FILES[sdk], path.basename(file))));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // Another origin than the collector's (127.0.0.1): the browser treats every call as cross-origin.
    const settings = path.join(dir, 'collector.json');
    fs.writeFileSync(
      settings,
      JSON.stringify({
        segmentWriteKeys: { [WRITE_KEY]: 'web' },
        segmentOrigins: { [WRITE_KEY]: [pageOrigin()] },
        snowplowAppIds: { [SNOWPLOW_APP]: 'web' },
        snowplowOrigins: { [SNOWPLOW_APP]: [pageOrigin()] },
      }),
    );
    collector = await spawnCollector(t.topology.namespace, settings);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    server?.close();
    collector?.worker.child.kill('SIGTERM');
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Opens the page with its clock an hour fast, and keeps it open until `expected` more events have landed. */
  const run = async (page: string, label: string, expected: number): Promise<Record_[]> => {
    html = page;
    const tab = await browser.newPage();
    await tab.clock.install({ time: Date.now() + FAST });
    tab.on('request', (r) => {
      if (r.url().startsWith(collector.url) && r.method() !== 'OPTIONS')
        requests.push(`${label} ${r.method()} ${new URL(r.url()).pathname} ${r.headers()['content-type'] ?? '-'}`);
    });
    await tab.goto(`${pageOrigin()}/?utm_source=news&utm_campaign=winter`);
    expect(await tab.evaluate('window.sent')).toBe('sent');
    landed += expected;
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in >= landed);
    await tab.close();
    expect(ledger.total).toMatchObject({ in: landed, raw: landed, duplicates: 0, dead_letter: 0 });
    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === landed);
    const stored = await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record_));
    const records = await readableAll(t.topology.namespace, 'web', 'BehavioralEvent', stored);
    // The lineage origin keeps the skew the collector corrected: the page's clock, an hour fast.
    return records.map((r, i) => ({ ...r, clock_skew_ms: (JSON.parse(String(raw[i]!.headers?.['c360.origin'])) as { clock_skew_ms: number }).clock_skew_ms }));
  };

  /** What every event of a page says: the page's address, a browser user agent, the hour it really happened, the URL's campaign. */
  const fromThePage = (events: Record_[], started: number) => {
    for (const e of events) {
      expect(e.ip).toBe('127.0.0.1');
      expect((e.device as { user_agent: string }).user_agent).toMatch(/Chrome/);
      // The page's clock is an hour fast; sentAt (stm) tells the collector so, and occurred_at is the real time.
      const at = new Date(e.occurred_at as number | Date).getTime();
      expect(at).toBeGreaterThanOrEqual(started - 5_000);
      expect(at).toBeLessThanOrEqual(Date.now() + 5_000);
      expect(Math.abs((e.clock_skew_ms as number) + FAST)).toBeLessThan(60_000);
      expect(e.campaign).toMatchObject({ name: 'winter', source: 'news' });
    }
  };

  it("Segment's analytics.js lands identify, page, track, group and alias once each, sent one by one and then batched", async () => {
    const started = Date.now();
    await run(segmentPage(collector.url, false, 'std'), 'std', 5);
    const records = await run(segmentPage(collector.url, true, 'bat'), 'bat', 5);
    // Standard mode: one short path per call, as text/plain (no preflight needed); batching: /v1/b.
    expect(requests.filter((p) => p.startsWith('std') && p.includes('POST')).sort()).toEqual([
      'std POST /v1/a text/plain',
      'std POST /v1/g text/plain',
      'std POST /v1/i text/plain',
      'std POST /v1/p text/plain',
      'std POST /v1/t text/plain',
    ]);
    expect(new Set(requests.filter((p) => p.startsWith('bat') && p.includes('POST')))).toEqual(new Set(['bat POST /v1/b text/plain']));
    for (const p of ['std', 'bat']) {
      const mine = records.filter((r) => String(r.event_id).startsWith(`${p}-`));
      expect(mine.map((r) => [r.event_id, r.event_type]).sort()).toEqual([
        [`${p}-alias`, 'ALIAS'],
        [`${p}-group`, 'GROUP'],
        [`${p}-identify`, 'IDENTIFY'],
        [`${p}-page`, 'PAGE_VIEW'],
        [`${p}-track`, 'TRACK'],
      ]);
      fromThePage(mine, started);
      const track = mine.find((r) => r.event_type === 'TRACK')!;
      expect(track).toMatchObject({ event_name: 'Clicked', properties: expect.objectContaining({ button: 'buy' }) });
      expect(String(track.page_url)).toMatch(/^http:\/\/localhost:\d+\/\?utm_source=news&utm_campaign=winter$/);
      expect(track).toMatchObject({ locale: expect.stringMatching(/^[a-z]{2}(-[A-Z]{2})?$/), consent: { Analytics: true, Advertising: false } });
      expect(mine.find((r) => r.event_type === 'IDENTIFY')).toMatchObject({ customer_id: `C-${p}`, traits: { plan: 'gold' } });
    }
  });

  it("RudderStack's JS SDK loads its source config from the collector and lands every call once, by XHR and then by beacon", async () => {
    const started = Date.now();
    await run(rudderStackPage(collector.url, false, 'rs-xhr'), 'rs-xhr', 5);
    const records = await run(rudderStackPage(collector.url, true, 'rs-beacon'), 'rs-beacon', 5);
    expect(requests).toContain('rs-xhr GET /sourceConfig/ -');
    expect(requests.filter((r) => r.startsWith('rs-xhr POST')).sort()).toEqual([
      'rs-xhr POST /v1/alias application/json;charset=UTF-8',
      'rs-xhr POST /v1/group application/json;charset=UTF-8',
      'rs-xhr POST /v1/identify application/json;charset=UTF-8',
      'rs-xhr POST /v1/page application/json;charset=UTF-8',
      'rs-xhr POST /v1/track application/json;charset=UTF-8',
    ]);
    expect(new Set(requests.filter((r) => r.startsWith('rs-beacon POST')))).toEqual(new Set(['rs-beacon POST /beacon/v1/batch text/plain']));
    for (const p of ['rs-xhr', 'rs-beacon']) {
      // Every call after identify carries the user; alias names the new id and the old one.
      const mine = records.filter((r) => String(r.customer_id).startsWith(`C-${p}`));
      expect(mine.map((r) => r.event_type).sort()).toEqual(['ALIAS', 'GROUP', 'IDENTIFY', 'PAGE_VIEW', 'TRACK']);
      fromThePage(mine, started);
      const track = mine.find((r) => r.event_type === 'TRACK')!;
      expect(track).toMatchObject({
        event_name: 'Clicked',
        properties: expect.objectContaining({ button: 'buy' }),
        locale: expect.stringMatching(/^[a-z]{2}(-[A-Z]{2})?$/),
        consent: { Analytics: true, Advertising: false },
        session_id: expect.stringMatching(/^\d+$/),
      });
      expect(mine.find((r) => r.event_type === 'PAGE_VIEW')).toMatchObject({ event_name: 'Home', properties: expect.objectContaining({ section: 'front' }) });
      expect(mine.find((r) => r.event_type === 'IDENTIFY')).toMatchObject({ customer_id: `C-${p}`, traits: expect.objectContaining({ plan: 'gold' }) });
      expect(mine.find((r) => r.event_type === 'ALIAS')).toMatchObject({
        customer_id: `C-${p}-2`,
        properties: expect.objectContaining({ previous_id: `C-${p}` }),
      });
      expect(mine.find((r) => r.event_type === 'GROUP')).toMatchObject({ properties: expect.objectContaining({ group_id: `G-${p}` }) });
    }
  });

  it("Snowplow's browser tracker lands page views, structured and self-describing events once, by POST and then by the GET pixel", async () => {
    const started = Date.now();
    await run(snowplowPage(collector.url, false, 'sp-post'), 'sp-post', 5);
    const records = await run(snowplowPage(collector.url, true, 'sp-get'), 'sp-get', 5);
    expect(new Set(requests.filter((r) => r.startsWith('sp-post')))).toEqual(
      new Set(['sp-post POST /com.snowplowanalytics.snowplow/tp2 application/json; charset=UTF-8']),
    );
    expect(new Set(requests.filter((r) => r.startsWith('sp-get')))).toEqual(new Set(['sp-get GET /i -']));
    for (const p of ['sp-post', 'sp-get']) {
      const mine = records.filter((r) => r.customer_id === `C-${p}`);
      expect(mine.map((r) => [r.event_type, r.event_name]).sort()).toEqual([
        ['PAGE_VIEW', 'Cart'],
        ['PAGE_VIEW', 'Home'],
        ['TRACK', 'add'],
        ['TRACK', 'iglu:com.acme/checkout_step/jsonschema/1-0-0'],
        ['TRACK', 'iglu:com.snowplowanalytics.snowplow/consent_preferences/jsonschema/1-0-0'],
      ]);
      fromThePage(mine, started);
      for (const e of mine) expect(e).toMatchObject({ anonymous_id: expect.any(String), session_id: expect.any(String), locale: expect.any(String) });
      expect(mine.find((r) => r.event_name === 'add')!.properties).toMatchObject({ category: 'cart', action: 'add', label: 'sku-1', value: '2' });
      // A self-describing event's data keeps its JSON types; its entities are kept with their schemas.
      const step = mine.find((r) => String(r.event_name).includes('checkout_step'))!;
      expect(step.properties).toMatchObject({ step: '2', express: 'true', coupon: 'WINTER' });
      const entities = JSON.parse((step.properties as Record<string, string>)['@contexts']!) as { schema: string; data: unknown }[];
      expect(entities).toContainEqual({ schema: 'iglu:com.acme/cart/jsonschema/1-0-0', data: { items: 3 } });
      expect(mine.find((r) => String(r.event_name).includes('consent_preferences'))).toMatchObject({ consent: { analytics: true } });
    }
  });
});
