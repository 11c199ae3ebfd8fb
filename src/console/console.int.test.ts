// The quarantine console end to end in a real headless Chromium: records the topology rejected land
// in the quarantine, `c360 console` serves it, and a steward filters, opens a record (masked),
// unmasks it (recorded in the access log first), previews a replay and replays; the ledger shows the
// replayed records counted again. Off loopback, the console refuses to start without its token, and
// with it, refuses a visitor who does not give it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmProfile, variant, webEvent } from '../../test/fixtures/records.js';
import { eventually, testKafka } from '../../test/support/kafka.js';
import { clearRedis, json, produce, type RunningTopology, startSink, startTopology, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { loggedValue, runCli, spawnCli, type Worker } from '../../test/support/worker.js';
import type { SinkWorker } from '../sinks/sink-worker.js';

const CHROMIUM = process.env.C360_CHROMIUM ?? '/usr/bin/chromium';
const kafka = testKafka();
const badEmail = (i: number) => variant(crmProfile, { customer_id: `C-con-${i}`, email: `con${i}..x@example.com` });

async function consoleUrl(worker: Worker): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = loggedValue<string>(worker.stdout(), 'quarantine console listening', 'url');
    if (url) return url;
    if (Date.now() > deadline || worker.child.exitCode !== null) throw new Error(`the console did not start: ${worker.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the quarantine console in a browser', () => {
  let t: RunningTopology;
  let ns: string;
  let root: string;
  let sink: SinkWorker;
  let browser: Browser;
  const consoles: Worker[] = [];

  beforeAll(async () => {
    ns = testNamespace();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-console-'));
    t = await startTopology(ns);
    await produce(kafka, t.names.ingest('crm'), [json(crmProfile, 'C-1001'), ...[1, 2].map((i) => json(badEmail(i), `C-con-${i}`))]);
    await produce(kafka, t.names.ingest('web'), [
      json(variant(webEvent, { event_id: 'ev-con', event_name: 'Order Completed', email: 'web..x@example.com' }), 'ev-con'),
    ]);
    await waitForLedger(kafka, t.names, (l) => l.total.in === 4);
    sink = await startSink(t.topology, root);
    await eventually(
      async () => (fs.existsSync(path.join(root, 'quarantine')) ? fs.readdirSync(path.join(root, 'quarantine'), { recursive: true }) : []),
      (files) => files.some((f) => String(f).endsWith('.parquet')),
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'] });
  });

  afterAll(async () => {
    for (const c of consoles) c.child.kill('SIGKILL');
    await browser?.close();
    await sink?.stop();
    await t?.stop();
    if (t) await clearRedis(ns);
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('filters, opens masked, unmasks with an audit entry, previews and replays; the ledger moves', async () => {
    const worker = spawnCli(['console', '--storage', root, '--namespace', ns, '--port', '0'], {
      LOG_LEVEL: 'info',
      C360_ALLOW_UNMASK: 'true',
      C360_ACTOR: 'steward@example.com',
    });
    consoles.push(worker);
    const url = await consoleUrl(worker);
    expect(new URL(url).hostname).toBe('127.0.0.1');
    const page = await browser.newPage();
    await page.goto(url);
    await page.locator('#counts tbody tr').first().waitFor();
    const today = new Date().toISOString().slice(0, 10);
    // The counts: two CRM profiles and a web order, one code; over time, one day of three.
    await expect
      .poll(() => page.locator('#counts tbody tr').allInnerTexts())
      .toEqual([`crm\t${today}\tquality.email_invalid\t2`, `web\t${today}\tquality.email_invalid\t1`]);
    expect(await page.locator('#chart rect').evaluateAll((bars) => bars.map((b) => [b.getAttribute('data-date'), b.getAttribute('data-records')]))).toEqual([
      [today, '3'],
    ]);

    // By event: the web order alone, named in its row.
    await page.fill('#event', 'Order Completed');
    await page.click('#apply');
    await expect.poll(() => page.locator('#records tbody tr').allInnerTexts()).toEqual([expect.stringContaining('\tweb\t')]);
    expect(await page.locator('#records tbody tr td').nth(3).textContent()).toBe('Order Completed');
    expect(await page.locator('#chart rect').getAttribute('data-records')).toBe('1');
    await page.fill('#event', '');
    // The same filter on the command line.
    const ls = await runCli(['quarantine', 'ls', '--storage', root, '--namespace', ns, '--event', 'CustomerProfile', '--json']);
    expect((JSON.parse(ls.stdout) as { counts: Array<{ source: string; records: number }> }).counts.map((c) => [c.source, c.records])).toEqual([['crm', 2]]);

    await page.selectOption('#source', 'crm');
    await page.fill('#code', 'quality.email_invalid');
    await page.click('#apply');
    await expect.poll(() => page.locator('#records tbody tr').count()).toBe(2);
    await page.locator('#records tbody tr').first().click();
    const masked = await page.locator('#detail').textContent();
    expect(masked).toContain('quality.email_invalid');
    expect(masked).not.toMatch(/con[12]\.\.x@example\.com/);

    await page.click('#unmask');
    await expect.poll(() => page.locator('#detail').textContent()).toMatch(/con[12]\.\.x@example\.com/);
    const log = await runCli(['privacy', 'access-log', '--storage', root, '--namespace', ns]);
    const entries = log.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; actor: string });
    expect(entries.map((e) => [e.action, e.actor])).toEqual([['console unmask', 'steward@example.com']]);

    await page.click('#preview');
    await expect.poll(() => page.locator('#replay-result').textContent()).toBe('would replay 2 record(s)');
    const before = (await page.locator('#ledger-before td').allInnerTexts()).map(Number);
    expect(before).toEqual([4, 1, 0, 3, 0]);
    await page.click('#replay');
    await expect.poll(() => page.locator('#replay-result').textContent()).toBe('replayed 2 record(s)');
    // The replayed records meet the same rule: counted in again, dead-lettered again.
    await expect.poll(async () => (await page.locator('#ledger-after td').allInnerTexts()).map(Number), { timeout: 60_000 }).toEqual([6, 1, 0, 5, 0]);
    expect(await page.locator('#error').textContent()).toBe('');
  });

  it('refuses to leave loopback without a token, and a visitor without it', async () => {
    const open = await runCli(['console', '--storage', root, '--namespace', ns, '--host', '0.0.0.0', '--port', '0']);
    expect(open.code).toBe(2);
    expect(open.stderr.trim()).toBe(
      'c360: the console would listen on 0.0.0.0, beyond this machine: set C360_CONSOLE_TOKEN, which every visitor must then give.',
    );

    const token = 'console-token-0123456789';
    const worker = spawnCli(['console', '--storage', root, '--namespace', ns, '--host', '0.0.0.0', '--port', '0'], {
      LOG_LEVEL: 'info',
      C360_CONSOLE_TOKEN: token,
    });
    consoles.push(worker);
    const base = `http://127.0.0.1:${new URL(await consoleUrl(worker)).port}`;
    expect((await fetch(`${base}/api/counts`)).status).toBe(401);
    expect((await fetch(`${base}/?token=wrong-token-00000000000`)).status).toBe(401);
    expect((await fetch(`${base}/api/counts`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // Unmasking is this process's permission, not the visitor's: without C360_ALLOW_UNMASK it is refused.
    const unmask = await fetch(`${base}/api/unmask`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ingestId: 'x' }),
    });
    expect([unmask.status, ((await unmask.json()) as { error: string }).error]).toEqual([
      403,
      'this console may not reveal personal data: C360_ALLOW_UNMASK is not set for it',
    ]);
    // In a browser: the token once in the address, then a cookie, and the address is clean.
    const page = await browser.newPage();
    await page.goto(`${base}/?token=${token}`);
    expect(new URL(page.url()).search).toBe('');
    await page.locator('#counts tbody tr').first().waitFor();
    expect(await page.locator('#error').textContent()).toBe('');
  });
});
