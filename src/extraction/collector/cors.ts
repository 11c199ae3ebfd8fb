/**
 * CORS for the tracker endpoints: a page may send with a write key (Segment, RudderStack) or an
 * app id (Snowplow) only from the origins the settings list for it. A preflight names no key, so it
 * is answered for every listed origin; the request itself is checked against its own key's list.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Headers browser SDKs send cross-origin: Segment's (authorization, a text/plain type), RudderStack's and Snowplow's own. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'content-encoding', 'anonymousid', 'sentat', 'sp-anonymous'];

export class TrackerCors {
  private readonly any: ReadonlySet<string>;
  /** `byKey`: a key as the collector names it (`segment:<write key>`, `snowplow:<app id>`) → the origins allowed to use it. */
  constructor(private readonly byKey: ReadonlyMap<string, readonly string[]>) {
    this.any = new Set([...byKey.values()].flat());
  }

  private expose(reply: FastifyReply, origin: string): void {
    reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true').header('vary', 'Origin');
  }

  preflight(req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const origin = req.headers.origin;
    if (!origin || !this.any.has(origin)) return reply.code(403).send({ error: `origin ${String(origin)} is not allowed` });
    this.expose(reply, origin);
    return reply
      .code(204)
      .header('access-control-allow-methods', 'GET, POST, OPTIONS')
      .header('access-control-allow-headers', ALLOWED_HEADERS.join(', '))
      .header('access-control-max-age', '600')
      .send();
  }

  /** Whether a request may use `key` from where it comes: one without an Origin (a server or app) may; a page only from its key's origins. */
  allow(req: FastifyRequest, reply: FastifyReply, key: string): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (!this.byKey.get(key)?.includes(origin)) return false;
    this.expose(reply, origin);
    return true;
  }
}
