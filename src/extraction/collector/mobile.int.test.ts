// A mobile app's events as Segment's Kotlin SDK sends them — com.segment.analytics.kotlin:core on the
// JVM (test/clients/segment-kotlin), gzip batches to /v1/b after fetching its settings from the
// collector. The first batch's answer is lost on the way back (a 503 after the collector took it):
// the SDK sends the same batch again, and every event lands once.

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, config, testKafka } from '../../../test/support/kafka.js';
import { clearRedis, type RunningTopology, readableAll, startTopology, testNamespace, waitForLedger } from '../../../test/support/topology.js';
import { spawnCollector, type Worker } from '../../../test/support/worker.js';
import { projectRoot } from '../../contracts/project.js';
import { createSchemaRegistry } from '../../schema/registry.js';

const kafka = testKafka();
const CLIENT = path.join(projectRoot(), 'test', 'clients', 'segment-kotlin');
// The SDK keeps unsent batches on disk by write key: a key of its own per run leaves none for the next.
const WRITE_KEY = `mobile-key-${randomBytes(8).toString('hex')}`;

interface Seen {
  method: string;
  path: string;
  encoding: string | undefined;
  type: string | undefined;
  status: number;
}

describe("Segment's Kotlin SDK (JVM) sending gzip batches to the collector", () => {
  let t: RunningTopology;
  let collector: { worker: Worker; url: string };
  let relay: http.Server;
  const seen: Seen[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-mobile-'));

  beforeAll(async () => {
    // Compiled here, from Maven Central, so the test runs the SDK's real HTTP client, batching and retries.
    execFileSync('mvn', ['-q', '-B', 'compile', 'dependency:build-classpath', '-Dmdep.outputFile=target/classpath.txt'], {
      cwd: CLIENT,
      stdio: 'inherit',
      timeout: 300_000,
    });
    t = await startTopology(testNamespace());
    const settings = path.join(dir, 'collector.json');
    fs.writeFileSync(settings, JSON.stringify({ segmentWriteKeys: { [WRITE_KEY]: 'web' } }));
    collector = await spawnCollector(t.topology.namespace, settings);
    // Between the app and the collector: passes every request on, records how it came, and loses the first batch's answer.
    // The Host header goes on as it came: the settings name it as the host to send to, so the batches come here too.
    relay = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const { port } = new URL(collector.url);
      const answer = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const out = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (r) => {
          const body: Buffer[] = [];
          r.on('data', (d: Buffer) => body.push(d));
          r.on('end', () => resolve({ status: r.statusCode!, body: Buffer.concat(body) }));
        });
        out.on('error', reject);
        out.end(Buffer.concat(chunks));
      });
      const lost = req.url === '/v1/b' && !seen.some((s) => s.path === '/v1/b');
      const status = lost ? 503 : answer.status;
      seen.push({ method: req.method!, path: req.url!, encoding: req.headers['content-encoding'], type: req.headers['content-type'], status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(lost ? '{"success":false}' : answer.body);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    relay?.close();
    collector?.worker.child.kill('SIGTERM');
    await t?.stop();
    if (t) await clearRedis(t.topology.namespace);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(os.tmpdir(), 'analytics-kotlin', WRITE_KEY), { recursive: true, force: true });
  });

  it('lands identify, screen, track, group and alias once, though the first batch is sent twice', async () => {
    const classpath = `${path.join(CLIENT, 'target', 'classes')}${path.delimiter}${fs.readFileSync(path.join(CLIENT, 'target', 'classpath.txt'), 'utf8').trim()}`;
    const app = spawn(
      'java',
      ['-cp', classpath, 'io.c360.clients.SegmentKotlinApp', `127.0.0.1:${(relay.address() as { port: number }).port}`, WRITE_KEY, 'kt'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    app.stdout.on('data', (d: Buffer) => (output += d.toString()));
    app.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const ledger = await waitForLedger(kafka, t.names, (l) => l.total.in >= 10 && l.total.duplicates >= 5, 90_000).catch((err: unknown) => {
        throw new Error(`${String(err)}\nthe app said: ${output}\nrequests: ${JSON.stringify(seen)}\nthe collector said: ${collector.worker.output()}`);
      });
      expect(ledger.total).toMatchObject({ in: 10, raw: 5, duplicates: 5, dead_letter: 0 });
    } finally {
      app.kill('SIGKILL');
    }
    // Its settings from the collector, then gzip batches as text/plain: the first answered 503, the same batch again 200.
    expect(seen[0]).toMatchObject({ method: 'GET', path: `/v1/projects/${WRITE_KEY}/settings`, status: 200 });
    const batches = seen.filter((s) => s.path === '/v1/b');
    expect(batches.map((b) => [b.method, b.encoding, b.type, b.status])).toEqual([
      ['POST', 'gzip', 'text/plain', 503],
      ['POST', 'gzip', 'text/plain', 200],
    ]);

    const raw = await collect(kafka, t.names.raw('web'), (s) => s.length === 5);
    const registry = createSchemaRegistry(config);
    const stored = await Promise.all(raw.map(async (m) => (await registry.decode(m.value!)) as Record<string, unknown>));
    const records = await readableAll(t.topology.namespace, 'web', 'BehavioralEvent', stored);
    expect(records.map((r) => [r.event_type, r.event_name]).sort()).toEqual([
      ['ALIAS', null],
      ['GROUP', null],
      ['IDENTIFY', null],
      ['SCREEN_VIEW', 'Cart'],
      ['TRACK', 'Added'],
    ]);
    // The SDK stamps the user id on an event in a coroutine of its own, after the call returns: on a
    // loaded machine the alias that follows the track can change it first. Either id is the app's.
    const track = records.find((r) => r.event_type === 'TRACK')!;
    expect(track).toMatchObject({ properties: { sku: 'sku-1', qty: '2' }, ip: '127.0.0.1' });
    expect(['C-kt', 'C-kt-2']).toContain(track.customer_id);
    expect(records.find((r) => r.event_type === 'IDENTIFY')).toMatchObject({ customer_id: 'C-kt', traits: { plan: 'gold' } });
    expect(records.find((r) => r.event_type === 'ALIAS')).toMatchObject({ customer_id: 'C-kt-2', properties: { previous_id: 'C-kt' } });
    expect(records.find((r) => r.event_type === 'GROUP')).toMatchObject({ properties: { group_id: 'G-kt' } });
    for (const r of raw) expect(JSON.parse(String(r.headers?.['c360.origin']))).toMatchObject({ library: 'analytics-kotlin' });
  });
});
