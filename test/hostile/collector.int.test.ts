// Hostile requests to the HTTP collector (`c360 collect`, a real process). Each class asserts its
// exact status; after each, a valid canary event must be accepted (200), and every canary must land
// in raw through a running topology: no request crashes the collector or stalls what follows it.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../src/contracts/topic-names.js';
import { variant, webEvent } from '../fixtures/records.js';
import { collect, testKafka } from '../support/kafka.js';
import { type RunningTopology, startTopology, testNamespace } from '../support/topology.js';
import { spawnCollector, type Worker } from '../support/worker.js';

const kafka = testKafka();
const KEY = 'hostile-web-key-0123456789';
const SECRET = 'hostile-support-secret-0123';
const WRITE_KEY = 'hostile-write-key-0123456789';
const APP = 'hostile-app';
const PAGE = 'https://shop.example.com';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-hostile-collect-'));
const settingsFile = path.join(dir, 'collector.json');
fs.writeFileSync(
  settingsFile,
  JSON.stringify({
    apiKeys: { [KEY]: 'web' },
    webhookSecrets: { support: SECRET },
    segmentWriteKeys: { [WRITE_KEY]: 'web' },
    segmentOrigins: { [WRITE_KEY]: [PAGE] },
    snowplowAppIds: { [APP]: 'web' },
    snowplowOrigins: { [APP]: [PAGE] },
    bodyLimitBytes: 2 * 1024 * 1024,
    maxEventsPerRequest: 100,
  }),
);

interface Request {
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body: string | Buffer;
}
interface HostileRequest {
  name: string;
  request: (id: string) => Request;
  status: number;
}

const event = (id: string, changes: Record<string, unknown> = {}) => variant(webEvent, { event_id: id, ...changes });
const body = (value: unknown) => JSON.stringify(value);
const sign = (raw: string) => `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const segment = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
const track = (id: string, changes: Record<string, unknown> = {}) => body({ messageId: id, anonymousId: 'a-1', event: 'Clicked', ...changes });
const PAYLOAD_DATA = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4';
const tp2 = (events: Record<string, unknown>[]) => ({ path: '/com.snowplowanalytics.snowplow/tp2', body: body({ schema: PAYLOAD_DATA, data: events }) });
const pv = (id: string, changes: Record<string, unknown> = {}) => ({ e: 'pv', aid: APP, eid: id, ...changes });

const classes: HostileRequest[] = [
  { name: 'no API key', request: (id) => ({ headers: { 'x-api-key': '' }, body: body(event(id)) }), status: 401 },
  { name: 'a wrong API key', request: (id) => ({ headers: { 'x-api-key': 'guess' }, body: body(event(id)) }), status: 401 },
  { name: 'a body that is not JSON', request: () => ({ body: 'event_id=1' }), status: 400 },
  {
    name: 'a body that is not UTF-8',
    request: (id) => ({ body: Buffer.concat([Buffer.from(body(event(id)).slice(0, -1)), Buffer.from(',"x":"\xe9"}', 'latin1')]) }),
    status: 400,
  },
  { name: 'a body nested 100,000 levels', request: () => ({ body: `{"events":${nested(100_000)}}` }), status: 400 },
  { name: 'a body nested 65 levels', request: () => ({ body: `{"a":${nested(64)}}` }), status: 400 },
  { name: 'a body over the body limit', request: (id) => ({ body: body(event(id, { page_url: 'p'.repeat(3 * 1024 * 1024) })) }), status: 413 },
  { name: 'an event over the record limit', request: (id) => ({ body: body(event(id, { page_url: 'p'.repeat(1_100_000) })) }), status: 400 },
  { name: 'a content type that is not JSON', request: (id) => ({ headers: { 'content-type': 'text/plain' }, body: body(event(id)) }), status: 415 },
  { name: 'an empty body', request: () => ({ body: '' }), status: 400 },
  { name: 'JSON null', request: () => ({ body: 'null' }), status: 400 },
  { name: 'a JSON string', request: () => ({ body: '"event"' }), status: 400 },
  { name: 'an empty batch', request: () => ({ body: '[]' }), status: 400 },
  { name: 'more events than a request may carry', request: (id) => ({ body: body(Array.from({ length: 101 }, (_, i) => event(`${id}-${i}`))) }), status: 400 },
  { name: 'an event that is a number', request: () => ({ body: '[1]' }), status: 400 },
  { name: 'an event that is an array', request: (id) => ({ body: body([[event(id)]]) }), status: 400 },
  { name: 'an event without its natural id', request: (id) => ({ body: body(event(id, { event_id: undefined })) }), status: 400 },
  { name: 'an event with an empty natural id', request: () => ({ body: body(event('')) }), status: 400 },
  { name: 'an event with a blank natural id', request: () => ({ body: body(event('  ')) }), status: 400 },
  { name: 'one bad event in a batch refuses the whole batch', request: (id) => ({ body: body([event(id), event('')]) }), status: 400 },
  { name: '"events" that is not a list', request: () => ({ body: '{"events":"all"}' }), status: 400 },
  { name: 'a __proto__ key in an event', request: (id) => ({ body: body(event(id)).replace('{', '{"__proto__":{"admin":true},') }), status: 200 },
  {
    name: 'a webhook without a signature',
    request: (id) => ({ path: '/v1/webhooks/support', headers: { 'x-api-key': '' }, body: body({ ticket_id: id }) }),
    status: 401,
  },
  {
    name: 'a webhook with a signature over other bytes',
    request: (id) => ({ path: '/v1/webhooks/support', headers: { 'x-c360-signature': sign('{}') }, body: body({ ticket_id: id }) }),
    status: 401,
  },
  {
    name: 'a webhook signature that is not hex',
    request: (id) => ({ path: '/v1/webhooks/support', headers: { 'x-c360-signature': 'sha256=zz' }, body: body({ ticket_id: id }) }),
    status: 401,
  },
  {
    name: 'a webhook for a source with no secret',
    request: (id) => ({ path: '/v1/webhooks/crm', headers: { 'x-c360-signature': sign('{}') }, body: body({ id }) }),
    status: 404,
  },
  { name: 'a webhook for no source at all', request: () => ({ path: '/v1/webhooks/..%2f..%2fetc', body: '{}' }), status: 404 },
  { name: 'GET on the events route', request: () => ({ method: 'GET', body: '' }), status: 404 },
  // The tracker endpoints: Segment's and RudderStack's calls, Snowplow's tp2 and pixel.
  {
    name: 'a Segment call from a page of another origin',
    request: (id) => ({ path: '/v1/t', headers: { ...segment, origin: 'https://evil.example' }, body: track(id) }),
    status: 403,
  },
  {
    name: 'a Segment call whose userId is an object',
    request: (id) => ({ path: '/v1/track', headers: segment, body: track(id, { userId: { id: 1 } }) }),
    status: 400,
  },
  {
    name: 'a Segment call with an epoch timestamp',
    request: (id) => ({ path: '/v1/track', headers: segment, body: track(id, { timestamp: 1_764_583_200 }) }),
    status: 400,
  },
  {
    name: 'a gzip body that decompresses past the body limit',
    request: (id) => ({
      path: '/v1/b',
      headers: { ...segment, 'content-encoding': 'gzip' },
      body: gzipSync(body({ batch: [{ type: 'track', messageId: id, pad: 'x'.repeat(3 * 1024 * 1024) }] })),
    }),
    status: 413,
  },
  {
    name: 'a body in an encoding the collector cannot read',
    request: (id) => ({ path: '/v1/b', headers: { ...segment, 'content-encoding': 'br' }, body: track(id) }),
    status: 415,
  },
  {
    name: 'a RudderStack beacon without a write key',
    request: (id) => ({ path: '/beacon/v1/batch', headers: { 'content-type': 'text/plain' }, body: body({ batch: [JSON.parse(track(id))] }) }),
    status: 401,
  },
  {
    name: 'a preflight from an origin no key lists',
    request: () => ({ method: 'OPTIONS', path: '/v1/t', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, body: '' }),
    status: 403,
  },
  { name: 'a Snowplow event of an app not listed', request: (id) => tp2([pv(id, { aid: 'someone-else' })]), status: 403 },
  {
    name: 'a Snowplow body that is no payload_data envelope',
    request: (id) => ({ path: '/com.snowplowanalytics.snowplow/tp2', body: body([pv(id)]) }),
    status: 400,
  },
  { name: 'a Snowplow event of an unknown kind', request: (id) => tp2([pv(id, { e: 'zz' })]), status: 400 },
  { name: 'a Snowplow time that is not milliseconds', request: (id) => tp2([pv(id, { dtm: '2026-12-01T10:00:00Z' })]), status: 400 },
  { name: 'a Snowplow self-describing event that is not base64url', request: (id) => tp2([pv(id, { e: 'ue', ue_px: '%%%' })]), status: 400 },
  { name: 'a Snowplow parameter that is an object', request: (id) => tp2([pv(id, { uid: { id: 1 } })]), status: 400 },
  {
    name: 'a Snowplow pixel whose query is not UTF-8',
    request: (id) => ({ method: 'GET', path: `/i?e=pv&aid=${APP}&eid=${id}&page=%FF`, body: '' }),
    status: 400,
  },
  { name: 'a Snowplow pixel naming a parameter twice', request: (id) => ({ method: 'GET', path: `/i?e=pv&aid=${APP}&eid=${id}&e=se`, body: '' }), status: 400 },
];

describe('hostile requests to the collector', () => {
  const namespace = testNamespace();
  let worker: Worker;
  let url: string;
  let t: RunningTopology;

  beforeAll(async () => {
    t = await startTopology(namespace);
    ({ worker, url } = await spawnCollector(namespace, settingsFile));
  });
  afterAll(async () => {
    worker?.child.kill('SIGKILL');
    await t?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const send = (r: Request) =>
    fetch(`${url}${r.path ?? '/v1/events'}`, {
      method: r.method ?? 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY, ...r.headers },
      ...(r.method === 'GET' || r.method === 'OPTIONS' ? {} : { body: r.body }),
    });

  it(`answers ${classes.length} classes each with its exact status, and accepts and lands every canary sent after one`, async () => {
    const statuses: Array<[string, number]> = [];
    for (const [i, cls] of classes.entries()) {
      const response = await send(cls.request(`h${i}`));
      const answer = (await response.json()) as { request_id?: string };
      statuses.push([cls.name, response.status]);
      // Every answer, refusals included, carries its request id and never a stack trace.
      if (response.status !== 404 || cls.request('x').path) expect(JSON.stringify(answer)).not.toMatch(/ at .*\.js:\d+/);
      const canary = await send({ body: body(event(`canary-${i}`)) });
      expect(canary.status, `canary after ${cls.name}`).toBe(200);
    }
    expect(statuses).toEqual(classes.map((c) => [c.name, c.status]));

    const names = topicNames(namespace);
    const accepted = classes.filter((c) => c.status === 200).length;
    const raw = await collect(kafka, names.raw('web'), (s) => s.length >= classes.length + accepted);
    const keys = new Set(raw.map((m) => m.key!.toString()));
    for (let i = 0; i < classes.length; i++) expect(keys.has(`canary-${i}`), `canary ${i}`).toBe(true);
    expect(worker.child.exitCode).toBeNull();
  });
});
