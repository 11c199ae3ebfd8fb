/**
 * The HTTP collector (`c360 collect`), on fastify. `POST /v1/events` takes one event or a batch
 * (`[...]` or `{"events": [...]}`) for the source its API key names; `POST /v1/webhooks/<source>`
 * takes a vendor's push, signed with HMAC-SHA256 over the raw body; `/v1/track`, `/v1/batch`, …
 * take Segment's calls for the source a write key names (segment.ts maps them). Every event of a request is
 * checked first (a JSON object, within the size limit, carrying its natural id); if any fails, the
 * request gets 400 with a reason per event and nothing is sent. Otherwise all are sent to
 * `<ns>.ingest.<source>` with acks=all by the idempotent producer, and only then does the client
 * get its 2xx: an acknowledged event is in Kafka, whatever happens to the collector next.
 */
import { isUtf8 } from 'node:buffer';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { gunzipSync, inflateSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type Kafka, type Message, Partitioners, type Producer } from 'kafkajs';
import { Counter, Histogram, type Registry } from 'prom-client';
import { ConfigError, describeError, listenFailure } from '../../contracts/errors.js';
import { lineageHeaders, type SourceKind } from '../../contracts/lineage.js';
import { topicNames } from '../../contracts/topic-names.js';
import { crashPoint } from '../../faults/failpoints.js';
import type { Logger } from '../../observability/logger.js';
import { perRegistry } from '../../observability/metrics.js';
import type { CompiledEntity } from '../../schema/entity.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../schema/json-depth.js';
import { TrackerCors } from './cors.js';
import { GroupSender } from './group-sender.js';
import { rudderStackSourceConfig, segmentSettings } from './sdk-config.js';
import { fromSegment, SEGMENT_CALLS, type SegmentCall, segmentEvents } from './segment.js';
import type { CollectorSettings } from './settings.js';
import { fromSnowplow, pixelParams, SNOWPLOW_GET_PATH, SNOWPLOW_POST_PATH, snowplowEvents } from './snowplow.js';
import type { Connection } from './tracker-event.js';

export interface CollectorOptions {
  kafka: Kafka;
  namespace: string;
  entities: Map<string, CompiledEntity>;
  settings: CollectorSettings;
  maxRecordBytes: number;
  metrics: Registry;
  logger: Logger;
}

interface EventProblem {
  index: number;
  reason: string;
}

const collectorMetrics = perRegistry((registry) => ({
  events: new Counter({
    name: 'c360_collector_events_total',
    help: 'Events by source and outcome: accepted, rejected, rate_limited',
    labelNames: ['source', 'outcome'],
    registers: [registry],
  }),
  requests: new Counter({
    name: 'c360_collector_requests_total',
    help: 'Requests by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  }),
  ackSeconds: new Histogram({
    name: 'c360_collector_kafka_ack_seconds',
    help: 'Time from request to Kafka acknowledging its events',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
}));

function eventsOf(body: unknown): unknown[] | undefined {
  if (Array.isArray(body)) return body;
  if (body && typeof body === 'object') {
    const events = (body as { events?: unknown }).events;
    return Array.isArray(events) ? events : [body];
  }
  return undefined;
}

function signatureMatches(secret: string, raw: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** How one endpoint reads its requests: where the events are, each event as the record to send, and its answers. */
interface Dialect {
  events(body: unknown): unknown[] | undefined;
  /** What a body without events should have been. */
  expected: string;
  /** The record to send and what its lineage origin adds, or why the event cannot be taken. */
  record(
    event: Record<string, unknown>,
    receivedAt: number,
    body: unknown,
  ): { value: Record<string, unknown>; origin: Record<string, unknown> } | { problem: string };
  accepted(count: number, requestId: string): unknown;
  /** The content type of `accepted` when it is not JSON. */
  acceptedType?: string;
  refused(error: string, requestId: string, problems?: EventProblem[]): Record<string, unknown>;
}

/** A request body read as JSON, or why it cannot be. */
type Parsed = { body: unknown } | { error: string };

function parseJson(raw: Buffer): Parsed {
  if (!isUtf8(raw)) return { error: 'the body is not valid UTF-8' };
  // Checked on the bytes, before anything walks the parsed body recursively (JSON.stringify would overflow the stack).
  if (jsonTooDeep(raw)) return { error: `the body nests deeper than ${MAX_JSON_DEPTH} levels` };
  try {
    return { body: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { error: 'the body is not JSON' };
  }
}

/** The native endpoints. */
const NATIVE: Dialect = {
  events: eventsOf,
  expected: 'expected an event object, an array of events or {"events": [...]}',
  record: (event: Record<string, unknown>) => ({ value: event, origin: {} }),
  accepted: (accepted: number, request_id: string) => ({ accepted, request_id }),
  refused: (error: string, request_id: string, errors?: EventProblem[]) => (errors ? { error, accepted: 0, errors, request_id } : { error, request_id }),
};

/** Segment's answers: `{"success": true}`, or `success: false` with a message (a 400 is not retried by its SDKs, a 5xx is). */
const SEGMENT = {
  accepted: () => ({ success: true }),
  refused: (message: string, request_id: string, errors?: EventProblem[]) => ({ success: false, message, ...(errors ? { errors } : {}), request_id }),
};

/** A token bucket per key: `take` says how long to wait before `n` events may go (0: they go now, and are counted). */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limit: { eventsPerSecond: number; burst: number } | undefined) {}

  take(key: string, n: number, now = Date.now()): number {
    if (!this.limit) return 0;
    const { eventsPerSecond, burst } = this.limit;
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * eventsPerSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= n) {
      b.tokens -= n;
      return 0;
    }
    return ((n - b.tokens) / eventsPerSecond) * 1000;
  }
}

/** The 1×1 transparent GIF Snowplow's pixel endpoint answers with. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** analytics.js's short paths for each call. */
const SHORT_PATHS: Partial<Record<SegmentCall | 'batch' | 'import', string>> = {
  track: 't',
  page: 'p',
  identify: 'i',
  group: 'g',
  alias: 'a',
  screen: 's',
  batch: 'b',
};

const isJson = (req: FastifyRequest) => /^application\/json\b/i.test(req.headers['content-type'] ?? '');

/** An HTTP error fastify answers with its status. */
const httpError = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

/** The body as sent before its Content-Encoding: gzip and deflate undone, never past `limit` bytes (413), anything else 415. */
function decodedBody(encoding: string | string[] | undefined, body: Buffer, limit: number): Buffer {
  const name = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? 'identity')).trim().toLowerCase();
  if (name === 'identity' || name === '') return body;
  if (name !== 'gzip' && name !== 'deflate') throw httpError(415, `Content-Encoding ${name} is not supported (gzip, deflate)`);
  try {
    return name === 'gzip' ? gunzipSync(body, { maxOutputLength: limit }) : inflateSync(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw httpError(413, `the body is over ${limit} bytes once decompressed`);
    throw httpError(400, `the body is not valid ${name}`);
  }
}

export class Collector {
  readonly app: FastifyInstance;
  private readonly producer: Producer;
  private readonly sender: GroupSender;
  private ready = false;

  constructor(o: CollectorOptions) {
    this.producer = o.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    this.sender = new GroupSender(this.producer);
    const metrics = collectorMetrics(o.metrics);
    const keys = new Map(Object.entries(o.settings.apiKeys));
    const limiter = new RateLimiter(o.settings.rateLimit);
    const names = topicNames(o.namespace);
    const app = Fastify({
      bodyLimit: o.settings.bodyLimitBytes,
      logger: false,
      trustProxy: o.settings.trustedProxies.length > 0 ? o.settings.trustedProxies : false,
    });
    this.app = app;

    // The raw bytes are kept: a webhook's signature is over them, not over re-serialised JSON. Browser SDKs send
    // JSON as text/plain (a CORS "simple" type), mobile ones gzip it: both are taken as bytes, decompressed within
    // the body limit; the native endpoints still take JSON only (415 otherwise).
    app.removeAllContentTypeParsers();
    const bytes = (req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) => {
      try {
        done(null, decodedBody(req.headers['content-encoding'], body, o.settings.bodyLimitBytes));
      } catch (err) {
        done(err as Error);
      }
    };
    app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer' }, (req, body, done) => bytes(req, body as Buffer, done));
    app.addHook('onResponse', async (req, reply) => {
      metrics.requests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
    });

    const accept = async (
      reply: FastifyReply,
      source: CompiledEntity,
      input: Buffer | Parsed,
      kind: SourceKind,
      requestId: string,
      extraOrigin: Record<string, unknown>,
      rateKey: string,
      dialect: Dialect = NATIVE,
    ) => {
      const refuse = (status: number, error: string, problems?: EventProblem[]) => reply.code(status).send(dialect.refused(error, requestId, problems));
      const parsed = Buffer.isBuffer(input) ? parseJson(input) : input;
      if ('error' in parsed) return refuse(400, parsed.error);
      const body = parsed.body;
      const events = dialect.events(body);
      if (!events || events.length === 0) return refuse(400, dialect.expected);
      if (events.length > o.settings.maxEventsPerRequest) return refuse(400, `at most ${o.settings.maxEventsPerRequest} events per request`);
      const problems: EventProblem[] = [];
      const messages: Message[] = [];
      const receivedAt = Date.now();
      for (const [index, event] of events.entries()) {
        if (event === null || typeof event !== 'object' || Array.isArray(event)) {
          problems.push({ index, reason: 'not a JSON object' });
          continue;
        }
        const record = dialect.record(event as Record<string, unknown>, receivedAt, body);
        if ('problem' in record) {
          problems.push({ index, reason: record.problem });
          continue;
        }
        const value = JSON.stringify(record.value);
        if (Buffer.byteLength(value) > o.maxRecordBytes) {
          problems.push({ index, reason: `larger than ${o.maxRecordBytes} bytes` });
          continue;
        }
        const id = source.naturalId(record.value);
        if (!id.trim()) {
          problems.push({ index, reason: `missing ${source.definition.key}, the ${source.name} id` });
          continue;
        }
        const origin = JSON.stringify({ request_id: requestId, index, ...extraOrigin, ...record.origin });
        messages.push({ key: id, value, headers: lineageHeaders({ ingestId: randomUUID(), source: source.source, sourceKind: kind, receivedAt, origin }) });
      }
      if (problems.length > 0) {
        metrics.events.inc({ source: source.source, outcome: 'rejected' }, events.length);
        return refuse(400, 'some events are not valid; none was accepted', problems);
      }
      const wait = limiter.take(rateKey, messages.length);
      if (wait > 0) {
        metrics.events.inc({ source: source.source, outcome: 'rate_limited' }, events.length);
        return reply
          .code(429)
          .header('retry-after', String(Math.ceil(wait / 1000)))
          .send(dialect.refused(`over the rate limit of ${o.settings.rateLimit!.eventsPerSecond} events per second for this key; retry later`, requestId));
      }
      const timer = metrics.ackSeconds.startTimer();
      try {
        await this.sender.send(names.ingest(source.source), messages);
      } catch (err) {
        o.logger.warn({ source: source.source, err: describeError(err) }, 'Kafka did not acknowledge; the client is told to retry');
        return reply.code(503).header('retry-after', '1').send(dialect.refused('Kafka did not acknowledge the events; retry', requestId));
      }
      timer();
      crashPoint('collector-after-ack');
      metrics.events.inc({ source: source.source, outcome: 'accepted' }, messages.length);
      if (dialect.acceptedType) reply.type(dialect.acceptedType);
      return reply.code(200).send(dialect.accepted(messages.length, requestId));
    };

    app.post('/v1/events', async (req, reply) => {
      const requestId = randomUUID();
      if (!isJson(req)) return reply.code(415).send({ error: 'the body must be application/json', request_id: requestId });
      const key = req.headers['x-api-key'];
      const sourceName = typeof key === 'string' ? keys.get(key) : undefined;
      if (!sourceName) return reply.code(401).send({ error: 'a valid x-api-key header is required', request_id: requestId });
      return accept(reply, o.entities.get(sourceName)!, req.body as Buffer, 'stream', requestId, {}, `api:${key}`);
    });

    app.post<{ Params: { source: string } }>('/v1/webhooks/:source', async (req, reply) => {
      const requestId = randomUUID();
      const secret = o.settings.webhookSecrets[req.params.source];
      const source = o.entities.get(req.params.source);
      if (!secret || !source) return reply.code(404).send({ error: `no webhook for source ${req.params.source}`, request_id: requestId });
      const signature = req.headers['x-c360-signature'];
      if (!isJson(req)) return reply.code(415).send({ error: 'the body must be application/json', request_id: requestId });
      if (!signatureMatches(secret, req.body as Buffer, typeof signature === 'string' ? signature : undefined)) {
        return reply.code(401).send({ error: 'x-c360-signature must be sha256=<hex HMAC-SHA256 of the body>', request_id: requestId });
      }
      return accept(reply, source, req.body as Buffer, 'api', requestId, { webhook: source.source }, `webhook:${source.source}`);
    });

    // Segment's tracking API, which RudderStack's SDKs speak too: HTTP basic with the write key as the user name
    // (or `writeKey` in the body, or in the query of RudderStack's beacon), one call or a batch.
    const writeKeys = new Map(Object.entries(o.settings.segmentWriteKeys));
    const snowplowApps = new Map(Object.entries(o.settings.snowplowAppIds));
    for (const [setting, sources] of [
      ['segmentWriteKeys', writeKeys],
      ['snowplowAppIds', snowplowApps],
    ] as const) {
      for (const source of new Set(sources.values())) {
        const entity = o.entities.get(source)?.name;
        if (entity !== 'BehavioralEvent')
          throw new ConfigError(
            `collector settings: ${setting} name source "${source}", whose entity is ${entity ?? 'unknown'}; tracker events map to BehavioralEvent.`,
          );
      }
    }
    const segmentKey = (req: FastifyRequest): string | undefined => {
      const auth = req.headers.authorization;
      const basic = auth?.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0] : undefined;
      const query = (req.query as Record<string, unknown>).writeKey;
      let key = basic ?? (typeof query === 'string' ? query : undefined);
      if (!key && Buffer.isBuffer(req.body)) {
        const match = /"writeKey"\s*:\s*"([^"]{1,200})"/.exec(req.body.toString('utf8'));
        key = match?.[1];
      }
      return key && writeKeys.has(key) ? key : undefined;
    };
    const cors = new TrackerCors(
      new Map([
        ...Object.entries(o.settings.segmentOrigins).map(([key, origins]): [string, string[]] => [`segment:${key}`, origins]),
        ...Object.entries(o.settings.snowplowOrigins).map(([app, origins]): [string, string[]] => [`snowplow:${app}`, origins]),
      ]),
    );
    const forbidden = (req: FastifyRequest, what: string) => `origin ${String(req.headers.origin)} may not use this ${what}`;
    // The client's address is the connection's, or X-Forwarded-For's client when a trusted proxy relays it (fastify's trustProxy).
    const connection = (req: FastifyRequest): Connection => ({
      ip: req.ip,
      userAgent: req.headers['user-agent'] ?? null,
      anonymous: req.headers['sp-anonymous'] !== undefined,
    });
    app.options('/*', async (req, reply) => cors.preflight(req, reply));
    app.get<{ Params: { key: string } }>('/v1/projects/:key/settings', async (req, reply) => {
      if (!writeKeys.has(req.params.key)) return reply.code(404).send({ error: 'no such write key' });
      if (!cors.allow(req, reply, `segment:${req.params.key}`)) return reply.code(403).send({ error: forbidden(req, 'write key') });
      return segmentSettings(req.params.key, `${req.headers.host ?? 'localhost'}/v1`, req.protocol);
    });
    // RudderStack's JS SDK loads with `configUrl` pointing here: the source config comes from the collector, not a control plane.
    const sourceConfig = async (req: FastifyRequest, reply: FastifyReply) => {
      const key = segmentKey(req);
      if (!key) return reply.code(401).send({ error: 'a valid writeKey is required' });
      if (!cors.allow(req, reply, `segment:${key}`)) return reply.code(403).send({ error: forbidden(req, 'write key') });
      return rudderStackSourceConfig(key, writeKeys.get(key)!);
    };
    app.get('/sourceConfig', sourceConfig);
    app.get('/sourceConfig/', sourceConfig);
    const segmentCall = (call: SegmentCall | 'batch' | 'import') => {
      const single = call !== 'batch' && call !== 'import';
      const dialect = (req: FastifyRequest): Dialect => ({
        ...SEGMENT,
        events: (body) => segmentEvents(body, single),
        expected: 'expected a Segment call object or {"batch": [...]}',
        record: (event, receivedAt, body) => fromSegment(event, single ? call : undefined, receivedAt, body, connection(req)),
      });
      return async (req: FastifyRequest, reply: FastifyReply) => {
        const requestId = randomUUID();
        const key = segmentKey(req);
        if (!key) return reply.code(401).send(SEGMENT.refused('a valid write key is required (HTTP basic, the write key as the user name)', requestId));
        if (!cors.allow(req, reply, `segment:${key}`)) return reply.code(403).send(SEGMENT.refused(forbidden(req, 'write key'), requestId));
        return accept(reply, o.entities.get(writeKeys.get(key)!)!, req.body as Buffer, 'stream', requestId, {}, `segment:${key}`, dialect(req));
      };
    };
    for (const call of [...SEGMENT_CALLS, 'batch', 'import'] as const) {
      app.post(`/v1/${call}`, segmentCall(call));
      // analytics.js posts to one-letter paths (and /v1/b when it batches).
      if (SHORT_PATHS[call]) app.post(`/v1/${SHORT_PATHS[call]}`, segmentCall(call));
    }
    // RudderStack's beacon (navigator.sendBeacon: text/plain, the write key in the query, no headers).
    app.post('/beacon/v1/batch', segmentCall('batch'));

    // Snowplow's tracker protocol: no key; each event's app id (`aid`) names its source, and pages send only from its origins.
    const snowplow = (req: FastifyRequest, pixel: boolean): Dialect => ({
      ...NATIVE,
      events: pixel ? (body) => [body] : snowplowEvents,
      expected: 'expected a payload_data envelope: {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": [...]}',
      record: (event, receivedAt) => fromSnowplow(event, receivedAt, connection(req)),
      ...(pixel ? { accepted: () => PIXEL, acceptedType: 'image/gif' } : {}),
    });
    const snowplowHandler = (pixel: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
      const requestId = randomUUID();
      const query = pixel ? pixelParams(req.url) : undefined;
      const parsed: Parsed = typeof query === 'string' ? { error: query } : query ? { body: query } : parseJson(req.body as Buffer);
      const dialect = snowplow(req, pixel);
      if ('error' in parsed) return reply.code(400).send(NATIVE.refused(parsed.error, requestId));
      const events = dialect.events(parsed.body);
      if (!events || events.length === 0) return reply.code(400).send(NATIVE.refused(dialect.expected, requestId));
      // A tracker sends its own app id with every event: one per request, as a write key is.
      const apps = new Set(events.map((e) => (e && typeof e === 'object' ? (e as { aid?: unknown }).aid : undefined)));
      if ([...apps].some((a) => typeof a !== 'string' || !snowplowApps.has(a)))
        return reply.code(403).send(NATIVE.refused('every event needs an app id (aid) listed in snowplowAppIds', requestId));
      if (apps.size > 1) return reply.code(400).send(NATIVE.refused("one request's events must all carry the same app id", requestId));
      const app = [...apps][0] as string;
      const source = snowplowApps.get(app)!;
      if (!cors.allow(req, reply, `snowplow:${app}`)) return reply.code(403).send(NATIVE.refused(forbidden(req, 'app id'), requestId));
      return accept(reply, o.entities.get(source)!, parsed, 'stream', requestId, {}, `snowplow:${app}`, dialect);
    };

    app.post(SNOWPLOW_POST_PATH, snowplowHandler(false));
    app.get(SNOWPLOW_GET_PATH, snowplowHandler(true));

    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) =>
      this.ready ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', failures: ['kafka producer not connected'] }),
    );
    app.get('/metrics', async (_req, reply) => reply.header('content-type', o.metrics.contentType).send(await o.metrics.metrics()));
  }

  async start(port: number, host: string): Promise<string> {
    this.producer.on(this.producer.events.DISCONNECT, () => (this.ready = false));
    await this.producer.connect();
    this.ready = true;
    return this.app.listen({ port, host }).catch((err: unknown) => {
      throw listenFailure('the collector', host, port, '--port, C360_COLLECTOR_PORT, --host and C360_HOST', err);
    });
  }

  /** Graceful stop: stop taking requests, let those in flight finish their sends, then close the producer. */
  async stop(): Promise<void> {
    await this.app.close();
    this.ready = false;
    await this.producer.disconnect();
  }
}
