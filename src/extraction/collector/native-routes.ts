/**
 * The collector's own endpoints: `POST /v1/events` takes one event or a batch (`[...]` or
 * `{"events": [...]}`) for the source its API key names; `POST /v1/webhooks/<source>` takes a
 * vendor's push, signed with HMAC-SHA256 over the raw body.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { type Accept, isJson } from './accept.js';
import type { CollectorOptions } from './settings.js';

function signatureMatches(secret: string, raw: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function registerNativeRoutes(app: FastifyInstance, accept: Accept, o: CollectorOptions): void {
  const keys = new Map(Object.entries(o.settings.apiKeys));
  app.post('/v1/events', async (req, reply) => {
    const requestId = randomUUID();
    if (!isJson(req)) return reply.code(415).send({ error: 'the body must be application/json', request_id: requestId });
    const key = req.headers['x-api-key'];
    const sourceName = typeof key === 'string' ? keys.get(key) : undefined;
    if (!sourceName) return reply.code(401).send({ error: 'a valid x-api-key header is required', request_id: requestId });
    return accept(reply, { source: o.entities.get(sourceName)!, input: req.body as Buffer, kind: 'stream', requestId, rateKey: `api:${key}` });
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
    return accept(reply, {
      source,
      input: req.body as Buffer,
      kind: 'api',
      requestId,
      origin: { webhook: source.source },
      rateKey: `webhook:${source.source}`,
    });
  });
}
