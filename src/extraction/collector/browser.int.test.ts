// Segment's analytics.js (@segment/analytics-next, its UMD build from the npm package, no CDN) in a
// real headless Chromium, on a page of another origin than the collector: it loads its settings
// from the collector, sends identify, page, track, group and alias — one request per call, then
// batched — and each lands once in the raw topic.

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
const CHROMIUM = process.env.C360_CHROMIUM ?? '/usr/bin/chromium';
const UMD = path.join(projectRoot(), 'node_modules', '@segment', 'analytics-next', 'dist', 'umd');

/** The page a web team serves: analytics.js from its own host, the collector as its CDN and API. */
const pageHtml = (collectorUrl: string, batching: boolean, prefix: string) => `<!doctype html><html><body>
<script src="/analytics-next/index.js"></script>
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
</script></body></html>`;

describe('analytics.js in a real browser, sending to the collector', () => {
  let t: RunningTopology;
  let collector: { worker: Worker; url: string };
  let browser: Browser;
  let page: http.Server;
  let batching = false;
  let prefix = '';
  const paths: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-browser-'));

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set C360_CHROMIUM`);
    t = await startTopology(testNamespace());
    page = http.createServer((req, res) => {
      if (req.url?.split('?')[0] === '/') {
        res.setHeader('content-type', 'text/html');
        res.end(pageHtml(collector.url, batching, prefix));
        return;
      }
      const file = path.join(UMD, path.basename(req.url ?? ''));
      if (req.url?.startsWith('/analytics-next/') && fs.existsSync(file)) {
        res.setHeader('content-type', 'application/javascript');
        res.end(fs.readFileSync(file));
        return;
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    // Another origin than the collector's (127.0.0.1): the browser treats every call as cross-origin.
    const origin = `http://localhost:${(page.address() as { port: number }).port}`;
    const settings = path.join(dir, 'collector.json');
    fs.writeFileSync(settings, JSON.stringify({ segmentWriteKeys: { [WRITE_KEY]: 'web' }, segmentOrigins: { [WRITE_KEY]: [origin] } }));
    collector = await spawnCollector(t.topology.namespace, settings);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    page?.close();
    collector?.worker.child.kill('SIGTERM');
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = async (mode: { batching: boolean; prefix: string }) => {
    batching = mode.batching;
    prefix = mode.prefix;
    const tab = await browser.newPage();
    tab.on('request', (r) => {
      if (r.url().startsWith(collector.url) && r.method() === 'POST') paths.push(`${prefix} ${new URL(r.url()).pathname} ${r.headers()['content-type']}`);
    });
    await tab.goto(`http://localhost:${(page.address() as { port: number }).port}/?utm_source=news&utm_campaign=winter`);
    expect(await tab.evaluate('window.sent')).toBe('sent');
    await tab.close();
  };

  it('lands identify, page, track, group and alias once each, sent one by one and then batched', async () => {
    await run({ batching: false, prefix: 'std' });
    await run({ batching: true, prefix: 'bat' });
    const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in === 10);
    expect(ledger.total).toMatchObject({ in: 10, raw: 10, duplicates: 0, dead_letter: 0 });
    // Standard mode: one short path per call, as text/plain (no preflight needed); batching: /v1/b.
    expect(paths.filter((p) => p.startsWith('std')).sort()).toEqual([
      'std /v1/a text/plain',
      'std /v1/g text/plain',
      'std /v1/i text/plain',
      'std /v1/p text/plain',
      'std /v1/t text/plain',
    ]);
    expect(new Set(paths.filter((p) => p.startsWith('bat')))).toEqual(new Set(['bat /v1/b text/plain']));

    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === 10);
    const registry = createSchemaRegistry(config);
    const stored = await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record<string, unknown>));
    const records = await readableAll(t.topology.namespace, 'web', 'BehavioralEvent', stored);
    for (const p of ['std', 'bat']) {
      const mine = records.filter((r) => String(r.event_id).startsWith(`${p}-`));
      expect(mine.map((r) => [r.event_id, r.event_type]).sort()).toEqual([
        [`${p}-alias`, 'ALIAS'],
        [`${p}-group`, 'GROUP'],
        [`${p}-identify`, 'IDENTIFY'],
        [`${p}-page`, 'PAGE_VIEW'],
        [`${p}-track`, 'TRACK'],
      ]);
      const track = mine.find((r) => r.event_type === 'TRACK')!;
      expect(track).toMatchObject({ event_name: 'Clicked', properties: expect.objectContaining({ button: 'buy' }) });
      // What the browser itself says (its user agent, locale, the page and the campaign in its URL), the consent the
      // call carried, and the address the collector saw it from.
      expect((track.device as { user_agent: string }).user_agent).toMatch(/HeadlessChrome|Chrome/);
      expect(String(track.page_url)).toMatch(/^http:\/\/localhost:\d+\/\?utm_source=news&utm_campaign=winter$/);
      expect(track).toMatchObject({
        ip: '127.0.0.1',
        locale: expect.stringMatching(/^[a-z]{2}(-[A-Z]{2})?$/),
        campaign: { name: 'winter', source: 'news' },
        consent: { Analytics: true, Advertising: false },
      });
      expect(mine.find((r) => r.event_type === 'IDENTIFY')).toMatchObject({ customer_id: `C-${p}`, traits: { plan: 'gold' } });
    }
  });
});
