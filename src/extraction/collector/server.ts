/**
 * The HTTP collector (`c360 collect`), on fastify: the collector's own endpoints (native-routes.ts),
 * Segment's and RudderStack's tracking API (segment-routes.ts) and Snowplow's tracker protocol
 * (snowplow-routes.ts), each handing its events to one acceptor (accept.ts), which answers 2xx
 * only once Kafka has them; and the ops endpoints.
 */
import type { IncomingMessage } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { Partitioners, type Producer } from 'kafkajs';
import { ConfigError, listenFailure } from '../../contracts/errors.js';
import { acceptor, collectorMetrics } from './accept.js';
import { TrackerCors } from './cors.js';
import { GroupSender } from './group-sender.js';
import { registerNativeRoutes } from './native-routes.js';
import { registerSegmentRoutes } from './segment-routes.js';
import type { CollectorOptions } from './settings.js';
import { registerSnowplowRoutes } from './snowplow-routes.js';

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

/** Bodies over the limit read and dropped before the 413, at most this many bytes and this long; larger or slower ones are cut off. */
const DRAINED_BYTES = 64 * 1024 * 1024;
const DRAIN_MS = 10_000;

/** Resolves once the request's body has been read to its end and dropped, or after `ms`. */
function drained(req: IncomingMessage, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ms);
    req.on('end', done).on('error', done).on('close', done).resume();
  });
}

/** Tracker events map to the behavioural event: every source a write key or an app id names must hold it. */
function checkTrackerSources(o: CollectorOptions): void {
  for (const [setting, sources] of [
    ['segmentWriteKeys', o.settings.segmentWriteKeys],
    ['snowplowAppIds', o.settings.snowplowAppIds],
  ] as const) {
    for (const source of new Set(Object.values(sources))) {
      const entity = o.entities.get(source)?.name;
      if (entity !== 'BehavioralEvent')
        throw new ConfigError(
          `collector settings: ${setting} name source "${source}", whose entity is ${entity ?? 'unknown'}; tracker events map to BehavioralEvent.`,
        );
    }
  }
}

export class Collector {
  readonly app: FastifyInstance;
  private readonly producer: Producer;
  private ready = false;

  constructor(o: CollectorOptions) {
    checkTrackerSources(o);
    this.producer = o.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    const accept = acceptor(o, new GroupSender(this.producer));
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
    // A body refused for its declared length is still on the wire: answered before it is read, the socket can close
    // under the client's write, which then fails with a broken pipe instead of reading the 413 (and an SDK retries it).
    app.addHook('onRequest', async (req) => {
      const declared = Number(req.headers['content-length']);
      if (declared > o.settings.bodyLimitBytes && declared <= DRAINED_BYTES) await drained(req.raw, DRAIN_MS);
    });
    const metrics = collectorMetrics(o.metrics);
    app.addHook('onResponse', async (req, reply) => {
      metrics.requests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
    });

    // Pages may send with a write key or an app id only from the origins listed for it.
    const cors = new TrackerCors(
      new Map([
        ...Object.entries(o.settings.segmentOrigins).map(([key, origins]): [string, string[]] => [`segment:${key}`, origins]),
        ...Object.entries(o.settings.snowplowOrigins).map(([app, origins]): [string, string[]] => [`snowplow:${app}`, origins]),
      ]),
    );
    app.options('/*', async (req, reply) => cors.preflight(req, reply));
    registerNativeRoutes(app, accept, o);
    registerSegmentRoutes(app, accept, o, cors);
    registerSnowplowRoutes(app, accept, o, cors);

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
