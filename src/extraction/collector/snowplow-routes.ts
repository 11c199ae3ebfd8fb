/**
 * Snowplow's tracker protocol: `POST /com.snowplowanalytics.snowplow/tp2` and the `GET /i` pixel,
 * for the source each event's app id names. snowplow.ts maps each event.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Accept, connectionOf, type Dialect, forbidden, NATIVE, type Parsed, parseJson } from './accept.js';
import type { TrackerCors } from './cors.js';
import type { CollectorOptions } from './settings.js';
import { fromSnowplow, pixelParams, SNOWPLOW_GET_PATH, SNOWPLOW_POST_PATH, snowplowEvents } from './snowplow.js';

/** The 1×1 transparent GIF Snowplow's pixel endpoint answers with. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export function registerSnowplowRoutes(app: FastifyInstance, accept: Accept, o: CollectorOptions, cors: TrackerCors): void {
  const snowplowApps = new Map(Object.entries(o.settings.snowplowAppIds));
  // Snowplow's tracker protocol: no key; each event's app id (`aid`) names its source, and pages send only from its origins.
  const snowplow = (req: FastifyRequest, pixel: boolean): Dialect => ({
    ...NATIVE,
    events: pixel ? (body) => [body] : snowplowEvents,
    expected: 'expected a payload_data envelope: {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": [...]}',
    record: (event, receivedAt) => fromSnowplow(event, receivedAt, connectionOf(req)),
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
    // The events are found already: the acceptor takes them as they are.
    return accept(reply, {
      source: o.entities.get(source)!,
      input: parsed,
      kind: 'stream',
      requestId,
      rateKey: `snowplow:${app}`,
      dialect: { ...dialect, events: () => events },
    });
  };

  app.post(SNOWPLOW_POST_PATH, snowplowHandler(false));
  app.get(SNOWPLOW_GET_PATH, snowplowHandler(true));
}
