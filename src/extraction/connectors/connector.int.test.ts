import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VendorApi } from '../../../dev/demo/vendor-api.js';
import { useScriptedServer } from '../../../test/support/http.js';
import { collect, eventually, testKafka } from '../../../test/support/kafka.js';
import { testNamespace } from '../../../test/support/topology.js';
import { opsUrl, runCli, spawnCli } from '../../../test/support/worker.js';
import { HEADER } from '../../contracts/lineage.js';
import { type TopicNames, topicNames } from '../../contracts/topic-names.js';
import { loadConnector } from './index.js';

const kafka = testKafka();
const { ConfigResourceTypes } = kafkajs;
const TOKEN = 'vendor-token-123';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-connect-'));

describe('c360 connect: a REST API, page by page, exactly once', () => {
  const api = new VendorApi(TOKEN);
  let ns: string;
  let names: TopicNames;

  function configFile(name: string, extra: Record<string, unknown>): string {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        name,
        source: 'support',
        headers: { authorization: 'Bearer ${VENDOR_TOKEN}' },
        pageSize: { param: 'per_page', size: 10 },
        updatedSince: { param: 'updated_since', field: 'updated_at' },
        rateLimitPerSecond: 50,
        ...extra,
      }),
    );
    return file;
  }

  const connect = async (file: string, env: Record<string, string> = {}, extra: string[] = []) => {
    const w = spawnCli(['connect', '--config', file, '--once', '--namespace', ns, ...extra], { VENDOR_TOKEN: TOKEN, ...env });
    const exit = await w.exited;
    return { ...exit, out: w.stdout(), all: w.output() };
  };

  beforeAll(async () => {
    ns = testNamespace();
    names = topicNames(ns);
    await api.start();
    api.add(25, (i) => new Date(Date.UTC(2026, 10, 20, 10, i)).toISOString());
  });

  afterAll(async () => {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('resumes a connector killed between pages with no gap and no repeat, then syncs only what changed', async () => {
    const file = configFile('tickets', {
      url: `${api.url}/api/tickets`,
      recordsPath: 'tickets',
      pagination: { type: 'cursor', cursorParam: 'cursor', nextCursorPath: 'meta.next_cursor' },
    });
    // Killed right after its second page committed.
    const killed = await connect(file, { C360_CRASH_AT: 'connector-after-commit:2' });
    expect(killed.signal).toBe('SIGKILL');
    api.failures.push(429, 503); // the vendor is briefly unhappy: retried with backoff
    const resumed = await connect(file);
    expect(resumed.code, resumed.all).toBe(0);
    expect(resumed.out.trim()).toBe('tickets: 1 page(s), 5 record(s) committed, 0 dead-lettered');
    const requestsAfterKill = api.requests.slice(2);
    expect(requestsAfterKill).toEqual(['/api/tickets?per_page=10&cursor=20', '/api/tickets?per_page=10&cursor=20', '/api/tickets?per_page=10&cursor=20']);

    let seen = await collect(kafka, names.ingest('support'), (s) => s.length >= 25);
    expect(seen.map((m) => m.key!.toString()).sort()).toEqual(Array.from({ length: 25 }, (_, i) => `S-${i + 1}`).sort());
    expect(JSON.parse(seen[0]!.headers![HEADER.origin]!.toString())).toMatchObject({ connector: 'tickets', index: expect.any(Number) });
    expect(seen[0]!.headers![HEADER.sourceKind]!.toString()).toBe('api');

    // Three tickets change later: the next sync asks for what changed since the newest one seen.
    api.add(3, (i) => new Date(Date.UTC(2026, 10, 21, 10, i)).toISOString());
    const incremental = await connect(file, {}, ['--json']);
    expect(JSON.parse(incremental.out)).toEqual({ connector: 'tickets', pages: 1, records: 3, deadLettered: 0, stopped: false });
    expect(api.requests.at(-1)).toBe(`/api/tickets?updated_since=${encodeURIComponent('2026-11-20T10:25:00.000Z')}&per_page=10`);
    seen = await collect(kafka, names.ingest('support'), (s) => s.length >= 28);
    expect(seen).toHaveLength(28);
    expect(new Set(seen.map((m) => m.key!.toString())).size).toBe(28);
  });

  it('follows page-number and Link-header pagination', async () => {
    const byPage = await connect(configFile('by-page', { url: `${api.url}/api/tickets-by-page`, pagination: { type: 'page', pageParam: 'page' } }));
    expect(byPage.out.trim()).toBe('by-page: 3 page(s), 28 record(s) committed, 0 dead-lettered');
    const linked = await connect(configFile('linked', { url: `${api.url}/api/tickets-linked`, recordsPath: 'data', pagination: { type: 'link' } }));
    expect(linked.out.trim()).toBe('linked: 3 page(s), 28 record(s) committed, 0 dead-lettered');
  });

  it('names a bad connector config in one sentence', () => {
    const file = configFile('bad', { url: 'not a url', pagination: { type: 'cursor', nextCursorPath: 'next' } });
    expect(() => loadConnector(file, { VENDOR_TOKEN: 'x' })).toThrow(`connector config ${file}: url must be an http(s) URL.`);
    const noSecret = configFile('nosecret', { url: 'http://127.0.0.1:1/x', pagination: { type: 'link' } });
    expect(() => loadConnector(noSecret, {})).toThrow(`connector config ${noSecret}: header authorization refers to \${VENDOR_TOKEN}, which is not set.`);
  });
});

describe('c360 connect at the edges: records the broker cannot take, loops, and a stop during a long wait', () => {
  const api = useScriptedServer();
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-connect-store-'));
  afterAll(() => fs.rmSync(storage, { recursive: true, force: true }));
  const file = (name: string, extra: Record<string, unknown> = {}) => {
    const f = path.join(storage, `${name}.json`);
    fs.writeFileSync(
      f,
      JSON.stringify({
        name,
        source: 'support',
        url: `${api.url}/api/tickets`,
        recordsPath: 'tickets',
        pagination: { type: 'cursor', nextCursorPath: 'next' },
        rateLimitPerSecond: 100,
        ...extra,
      }),
    );
    return f;
  };
  const ticket = (id: string, extra: Record<string, unknown> = {}) => ({ interaction_id: id, channel: 'EMAIL', status: 'OPEN', ...extra });

  it('dead-letters a record over the topic limit and one that is not an object, with lineage, and commits the page', async () => {
    const ns = testNamespace();
    const names = topicNames(ns);
    // An ingest topic whose max.message.bytes is below the topology's record limit (1 MiB), as a platform team may set it.
    expect((await runCli(['topics', 'create', '--namespace', ns])).code).toBe(0);
    const admin = kafka.admin();
    await admin.connect();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: names.ingest('support'), configEntries: [{ name: 'max.message.bytes', value: '102400' }] }],
    });
    await admin.disconnect();
    // Under the record limit, over what the topic takes; and one over the record limit itself.
    const justOver = ticket('T-big', { note: 'x'.repeat(110_000) });
    const wayOver = ticket('T-huge', { note: 'y'.repeat(2_000_000) });
    api.answers = [{ status: 200, body: JSON.stringify({ tickets: [ticket('T-1'), justOver, 42, wayOver, ticket('T-2')], next: null }) }];
    const w = spawnCli(['connect', '--config', file('edges'), '--once', '--namespace', ns], { C360_STORAGE_URL: storage });
    const exit = await w.exited;
    expect(exit.code, w.output()).toBe(0);
    expect(w.stdout().trim()).toBe('edges: 1 page(s), 2 record(s) committed, 3 dead-lettered');

    const sent = await collect(kafka, names.ingest('support'), (m) => m.length >= 2);
    expect(sent.map((m) => m.key!.toString()).sort()).toEqual(['T-1', 'T-2']);
    const dead = await collect(kafka, names.deadLetter, (m) => m.length >= 3);
    expect(dead.map((m) => m.headers!['__connect.errors.exception.class.name']!.toString()).sort()).toEqual([
      'mapping.malformed_row',
      'size.too_large',
      'size.too_large',
    ]);
    for (const m of dead) {
      expect(m.headers!['__connect.errors.topic']!.toString()).toBe('connector:edges');
      expect(m.headers![HEADER.sourceKind]!.toString()).toBe('api');
      expect(JSON.parse(m.headers![HEADER.origin]!.toString())).toMatchObject({ connector: 'edges', index: expect.any(Number) });
    }
    // The original too large for a dead letter is kept out of line, sealed, in the raw layer's storage.
    const originals = fs.readdirSync(path.join(storage, 'quarantine', 'originals'));
    expect(originals).toHaveLength(1);
    expect(fs.readFileSync(path.join(storage, 'quarantine', 'originals', originals[0]!)).includes('yyyyyyyy')).toBe(false);
    const ledger = await collect(kafka, names.ledger, (m) => m.length >= 1);
    expect(JSON.parse(ledger[0]!.value!.toString())).toMatchObject({
      topic: 'connector:edges',
      in: 3,
      dead_letter: 3,
      errors: { 'size.too_large': 2, 'mapping.malformed_row': 1 },
    });
  });

  it('a cursor that leads back to a page of this sync ends the run with one sentence, after committing the pages before', async () => {
    const ns = testNamespace();
    api.answers = [
      { status: 200, body: JSON.stringify({ tickets: [ticket('T-a')], next: 'A' }) },
      { status: 200, body: JSON.stringify({ tickets: [ticket('T-b')], next: 'B' }) },
      { status: 200, body: JSON.stringify({ tickets: [ticket('T-c')], next: 'A' }) },
    ];
    const w = spawnCli(['connect', '--config', file('looping'), '--once', '--namespace', ns], { C360_STORAGE_URL: storage });
    const exit = await w.exited;
    expect(exit.code).toBe(1);
    const stderr = w.output().replace(w.stdout(), '').trim();
    expect(stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
    expect(stderr.split('\n').at(-1)).toBe(
      'c360: looping: the API handed back a position it had already given in this sync ({"next":"A","since":null,"watermark":null}); following it would loop for ever.',
    );
    expect((await collect(kafka, topicNames(ns).ingest('support'), (m) => m.length >= 3)).map((m) => m.key!.toString()).sort()).toEqual(['T-a', 'T-b', 'T-c']);
  });

  it('a SIGTERM during a Retry-After wait ends the connector at once, with what it committed', async () => {
    const ns = testNamespace();
    api.requests.length = 0;
    api.answers = [{ status: 503, headers: { 'retry-after': '86400' } }];
    const w = spawnCli(['connect', '--config', file('patient'), '--namespace', ns, '--ops-port', '0'], {
      C360_STORAGE_URL: storage,
      LOG_LEVEL: 'info',
    });
    const waiting = await eventually(
      async () => w.output(),
      (o) => o.includes('the API did not answer; retrying after the wait'),
    );
    expect(JSON.parse(waiting.split('\n').find((l) => l.includes('retrying after the wait'))!)).toMatchObject({ waitMs: 60_000 });
    // The failing API is counted where an alert sees it (C360ConnectorFailing).
    const metrics = await (await fetch(`${opsUrl(w)}/metrics`)).text();
    expect(metrics).toMatch(/^c360_connector_request_retries_total\{connector="patient"[^}]*\} 1$/m);
    const stopping = Date.now();
    w.child.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(w.stdout()).toContain('patient: 0 page(s), 0 record(s) committed, 0 dead-lettered (stopped)');
  });
});
