/**
 * Segment's tracking API, which RudderStack's SDKs speak too, for the source a write key names:
 * `/v1/track`, `/v1/batch`, … and analytics.js's short paths; the settings analytics.js loads and
 * the source config RudderStack's SDK loads; RudderStack's beacon. segment.ts maps each call.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Accept, connectionOf, type Dialect, type EventProblem, forbidden } from './accept.js';
import type { TrackerCors } from './cors.js';
import { rudderStackSourceConfig, segmentSettings } from './sdk-config.js';
import { fromSegment, SEGMENT_CALLS, type SegmentCall, segmentEvents } from './segment.js';
import type { CollectorOptions } from './settings.js';

/** Segment's answers: `{"success": true}`, or `success: false` with a message (a 400 is not retried by its SDKs, a 5xx is). */
const SEGMENT = {
  accepted: () => ({ success: true }),
  refused: (message: string, request_id: string, errors?: EventProblem[]) => ({ success: false, message, ...(errors ? { errors } : {}), request_id }),
};

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

export function registerSegmentRoutes(app: FastifyInstance, accept: Accept, o: CollectorOptions, cors: TrackerCors): void {
  // Segment's tracking API, which RudderStack's SDKs speak too: HTTP basic with the write key as the user name
  // (or `writeKey` in the body, or in the query of RudderStack's beacon), one call or a batch.
  const writeKeys = new Map(Object.entries(o.settings.segmentWriteKeys));
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
      record: (event, receivedAt, body) => fromSegment(event, single ? call : undefined, receivedAt, body, connectionOf(req)),
    });
    return async (req: FastifyRequest, reply: FastifyReply) => {
      const requestId = randomUUID();
      const key = segmentKey(req);
      if (!key) return reply.code(401).send(SEGMENT.refused('a valid write key is required (HTTP basic, the write key as the user name)', requestId));
      if (!cors.allow(req, reply, `segment:${key}`)) return reply.code(403).send(SEGMENT.refused(forbidden(req, 'write key'), requestId));
      return accept(reply, {
        source: o.entities.get(writeKeys.get(key)!)!,
        input: req.body as Buffer,
        kind: 'stream',
        requestId,
        rateKey: `segment:${key}`,
        dialect: dialect(req),
      });
    };
  };
  for (const call of [...SEGMENT_CALLS, 'batch', 'import'] as const) {
    app.post(`/v1/${call}`, segmentCall(call));
    // analytics.js posts to one-letter paths (and /v1/b when it batches).
    if (SHORT_PATHS[call]) app.post(`/v1/${SHORT_PATHS[call]}`, segmentCall(call));
  }
  // RudderStack's beacon (navigator.sendBeacon: text/plain, the write key in the query, no headers).
  app.post('/beacon/v1/batch', segmentCall('batch'));
}
