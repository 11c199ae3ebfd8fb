import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VendorApi } from '../../../dev/demo/vendor-api.js';
import { collect, testKafka } from '../../../test/support/kafka.js';
import { testNamespace } from '../../../test/support/topology.js';
import { spawnCli } from '../../../test/support/worker.js';
import { HEADER } from '../../contracts/lineage.js';
import { type TopicNames, topicNames } from '../../contracts/topics.js';
import { loadConnector } from './index.js';

const kafka = testKafka();
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

  const connect = async (file: string, env: Record<string, string> = {}) => {
    const w = spawnCli(['connect', '--config', file, '--once', '--namespace', ns], { VENDOR_TOKEN: TOKEN, ...env });
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
    expect(resumed.out.trim()).toBe('tickets: 1 page(s), 5 record(s) committed');
    const requestsAfterKill = api.requests.slice(2);
    expect(requestsAfterKill).toEqual(['/api/tickets?per_page=10&cursor=20', '/api/tickets?per_page=10&cursor=20', '/api/tickets?per_page=10&cursor=20']);

    let seen = await collect(kafka, names.ingest('support'), (s) => s.length >= 25);
    expect(seen.map((m) => m.key!.toString()).sort()).toEqual(Array.from({ length: 25 }, (_, i) => `S-${i + 1}`).sort());
    expect(JSON.parse(seen[0]!.headers![HEADER.origin]!.toString())).toMatchObject({ connector: 'tickets', index: expect.any(Number) });
    expect(seen[0]!.headers![HEADER.sourceKind]!.toString()).toBe('api');

    // Three tickets change later: the next sync asks for what changed since the newest one seen.
    api.add(3, (i) => new Date(Date.UTC(2026, 10, 21, 10, i)).toISOString());
    const incremental = await connect(file);
    expect(incremental.out.trim()).toBe('tickets: 1 page(s), 3 record(s) committed');
    expect(api.requests.at(-1)).toBe(`/api/tickets?updated_since=${encodeURIComponent('2026-11-20T10:25:00.000Z')}&per_page=10`);
    seen = await collect(kafka, names.ingest('support'), (s) => s.length >= 28);
    expect(seen).toHaveLength(28);
    expect(new Set(seen.map((m) => m.key!.toString())).size).toBe(28);
  });

  it('follows page-number and Link-header pagination', async () => {
    const byPage = await connect(configFile('by-page', { url: `${api.url}/api/tickets-by-page`, pagination: { type: 'page', pageParam: 'page' } }));
    expect(byPage.out.trim()).toBe('by-page: 3 page(s), 28 record(s) committed');
    const linked = await connect(configFile('linked', { url: `${api.url}/api/tickets-linked`, recordsPath: 'data', pagination: { type: 'link' } }));
    expect(linked.out.trim()).toBe('linked: 3 page(s), 28 record(s) committed');
  });

  it('names a bad connector config in one sentence', () => {
    const file = configFile('bad', { url: 'not a url', pagination: { type: 'cursor', nextCursorPath: 'next' } });
    expect(() => loadConnector(file, { VENDOR_TOKEN: 'x' })).toThrow(`connector config ${file}: url must be an http(s) URL.`);
    const noSecret = configFile('nosecret', { url: 'http://127.0.0.1:1/x', pagination: { type: 'link' } });
    expect(() => loadConnector(noSecret, {})).toThrow(`connector config ${noSecret}: header authorization refers to \${VENDOR_TOKEN}, which is not set.`);
  });
});
