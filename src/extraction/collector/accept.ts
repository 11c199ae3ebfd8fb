/**
 * How the collector takes a request's events, whatever the endpoint: every event is checked first
 * (a JSON object its dialect can map, within the record size limit, carrying its natural id); if any
 * fails, the request gets 400 with a reason per event and nothing is sent. Otherwise all are sent
 * to `<ns>.ingest.<source>` with acks=all by the idempotent producer, and only then does the client
 * get its 2xx: an acknowledged event is in Kafka, whatever happens to the collector next.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Message } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import { describeError } from '../../contracts/errors.js';
import { lineageHeaders, type SourceKind } from '../../contracts/lineage.js';
import { topicNames } from '../../contracts/topic-names.js';
import { crashPoint } from '../../faults/failpoints.js';
import { perRegistry } from '../../observability/metrics.js';
import { endSpan, SpanKind, startSpan, traceparentOf } from '../../observability/tracing.js';
import type { CompiledEntity } from '../../schema/entity.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../schema/json-depth.js';
import type { GroupSender } from './group-sender.js';
import { RateLimiter } from './rate-limit.js';
import type { CollectorOptions } from './settings.js';
import type { Connection } from './tracker-event.js';

export interface EventProblem {
  index: number;
  reason: string;
}

export const collectorMetrics = perRegistry((registry) => ({
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

/** How one endpoint reads its requests: where the events are, each event as the record to send, and its answers. */
export interface Dialect {
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
export type Parsed = { body: unknown } | { error: string };

export function parseJson(raw: Buffer): Parsed {
  if (!isUtf8(raw)) return { error: 'the body is not valid UTF-8' };
  // Checked on the bytes, before anything walks the parsed body recursively (JSON.stringify would overflow the stack).
  if (jsonTooDeep(raw)) return { error: `the body nests deeper than ${MAX_JSON_DEPTH} levels` };
  try {
    return { body: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { error: 'the body is not JSON' };
  }
}

/** The events of a native request: an event, an array of them, or `{"events": [...]}`. */
function eventsOf(body: unknown): unknown[] | undefined {
  if (Array.isArray(body)) return body;
  if (body && typeof body === 'object') {
    const events = (body as { events?: unknown }).events;
    return Array.isArray(events) ? events : [body];
  }
  return undefined;
}

/** The native endpoints. */
export const NATIVE: Dialect = {
  events: eventsOf,
  expected: 'expected an event object, an array of events or {"events": [...]}',
  record: (event: Record<string, unknown>) => ({ value: event, origin: {} }),
  accepted: (accepted: number, request_id: string) => ({ accepted, request_id }),
  refused: (error: string, request_id: string, errors?: EventProblem[]) => (errors ? { error, accepted: 0, errors, request_id } : { error, request_id }),
};

/** What an endpoint hands over once it knows the source: the body, and how to read and answer it. */
interface Submission {
  source: CompiledEntity;
  input: Buffer | Parsed;
  kind: SourceKind;
  requestId: string;
  /** What the lineage origin of every event adds (the webhook it came through, say). */
  origin?: Record<string, unknown>;
  /** Whose rate limit the events count against. */
  rateKey: string;
  dialect?: Dialect;
}

export type Accept = (reply: FastifyReply, submission: Submission) => Promise<FastifyReply>;

/** Each event as the Kafka message it becomes, or the reason it cannot be taken, by its index. */
function messagesOf(
  events: unknown[],
  body: unknown,
  dialect: Dialect,
  o: { source: CompiledEntity; kind: SourceKind; requestId: string; origin: Record<string, unknown>; maxRecordBytes: number; trace: string | undefined },
): { messages: Message[]; problems: EventProblem[] } {
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
    const id = o.source.naturalId(record.value);
    if (!id.trim()) {
      problems.push({ index, reason: `missing ${o.source.definition.key}, the ${o.source.name} id` });
      continue;
    }
    const origin = JSON.stringify({ request_id: o.requestId, index, ...o.origin, ...record.origin });
    const lineage = { ingestId: randomUUID(), source: o.source.source, sourceKind: o.kind, receivedAt, origin, ...(o.trace ? { trace: o.trace } : {}) };
    messages.push({ key: id, value, headers: lineageHeaders(lineage) });
  }
  return { messages, problems };
}

export function acceptor(o: CollectorOptions, sender: GroupSender): Accept {
  const metrics = collectorMetrics(o.metrics);
  const limiter = new RateLimiter(o.settings.rateLimit);
  const names = topicNames(o.namespace);
  const take = async (
    reply: FastifyReply,
    { source, input, kind, requestId, origin: extraOrigin = {}, rateKey, dialect = NATIVE }: Submission,
    trace: string | undefined,
  ): Promise<FastifyReply> => {
    const refuse = (status: number, error: string, problems?: EventProblem[]) => reply.code(status).send(dialect.refused(error, requestId, problems));
    const parsed = Buffer.isBuffer(input) ? parseJson(input) : input;
    if ('error' in parsed) return refuse(400, parsed.error);
    const body = parsed.body;
    const events = dialect.events(body);
    if (!events || events.length === 0) return refuse(400, dialect.expected);
    if (events.length > o.settings.maxEventsPerRequest) return refuse(400, `at most ${o.settings.maxEventsPerRequest} events per request`);
    const { messages, problems } = messagesOf(events, body, dialect, { source, kind, requestId, origin: extraOrigin, maxRecordBytes: o.maxRecordBytes, trace });
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
      await sender.send(names.ingest(source.source), messages);
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
  // A request is one span, under the caller's trace when it sends a traceparent; its events go on as that span's children.
  return async (reply, submission) => {
    const { request } = reply;
    const span = startSpan(`${request.method} ${request.routeOptions.url ?? ''}`, {
      kind: SpanKind.SERVER,
      parent: request.headers.traceparent as string | undefined,
      attributes: { 'http.request.method': request.method, 'http.route': request.routeOptions.url ?? '', 'c360.source': submission.source.source },
    });
    if (!span) return take(reply, submission, undefined);
    try {
      return await take(reply, submission, traceparentOf(span));
    } finally {
      span.setAttribute('http.response.status_code', reply.statusCode);
      endSpan(span, reply.statusCode >= 500 ? new Error(`HTTP ${reply.statusCode}`) : undefined);
    }
  };
}

export const isJson = (req: FastifyRequest) => /^application\/json\b/i.test(req.headers['content-type'] ?? '');

/** Why a page's origin may not send with a key. */
export const forbidden = (req: FastifyRequest, what: string) => `origin ${String(req.headers.origin)} may not use this ${what}`;

/** The client as the connection shows it: its address (X-Forwarded-For's client only from a trusted proxy, fastify's trustProxy), its user agent. */
export const connectionOf = (req: FastifyRequest): Connection => ({
  ip: req.ip,
  userAgent: req.headers['user-agent'] ?? null,
  anonymous: req.headers['sp-anonymous'] !== undefined,
});
