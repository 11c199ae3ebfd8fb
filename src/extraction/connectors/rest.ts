/**
 * The generic REST connector, configured by a JSON file: a URL, auth headers (with `${ENV}`
 * references, so secrets stay out of the file), where the records are in the response, one of
 * three paginations (a cursor in the body, page numbers, or the `Link: <…>; rel="next"` header),
 * an `updated_since` watermark for incremental sync, a request rate limit, and retries with
 * backoff on 429 and 5xx (honouring Retry-After up to a cap). Its headers go to the configured
 * URL's origin only: a redirect or a next link elsewhere is refused, or followed without them when
 * `allowedOrigins` names that origin, as browsers and curl drop credentials across origins.
 */
import { hash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfigError, ConnectorLoopError, DependencyRefusedError, DependencyUnavailableError, describeError, httpError } from '../../contracts/errors.js';
import { retry } from '../../retry.js';
import { type Connector, defineConnector, type Page, type Position, type PullContext } from './connector.js';

export const restConnectorSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lower-case letters, digits, dots, dashes or underscores')
      .describe('the connector, in its state key, ingest ids and logs'),
    source: z.string().describe('the topology source its records belong to'),
    url: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .refine(
        (u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''),
        'must not hold credentials: put them in headers, from ${VAR}',
      )
      .describe('the first page'),
    headers: z
      .record(z.string(), z.string().regex(/^[^\r\n\0]*$/, 'must not hold line breaks or NUL'))
      .refine((h) => Object.keys(h).every((name) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)), 'must have HTTP header names')
      .default({})
      .describe('request headers; ${VAR} is read from the environment'),
    recordsPath: z.string().default('').describe('dotted path of the records array in the body; empty when the body is the array'),
    pagination: z.discriminatedUnion('type', [
      z
        .object({
          type: z.literal('cursor'),
          cursorParam: z.string().default('cursor').describe('query parameter that carries the cursor'),
          nextCursorPath: z.string().describe('dotted path of the next cursor in the body; empty or absent on the last page'),
        })
        .strict(),
      z
        .object({
          type: z.literal('page'),
          pageParam: z.string().default('page').describe('query parameter of the page number'),
          firstPage: z.number().int().default(1).describe('number of the first page; a short page is the last'),
        })
        .strict(),
      z.object({ type: z.literal('link').describe('follow the Link: <…>; rel="next" header') }).strict(),
    ]),
    pageSize: z
      .object({ param: z.string().describe('query parameter of the page size'), size: z.number().int().min(1) })
      .strict()
      .optional(),
    updatedSince: z
      .object({
        param: z.string().describe('query parameter of the watermark'),
        field: z.string().describe("dotted path of a record's last-update time"),
        initial: z.string().optional().describe('watermark of the very first sync'),
      })
      .strict()
      .optional()
      .describe('incremental sync: once caught up, ask only for what changed since the newest record seen'),
    allowedOrigins: z
      .array(z.url({ protocol: /^https?$/, message: 'must be an http(s) origin' }).transform((u) => (URL.canParse(u) ? new URL(u).origin : u)))
      .default([])
      .describe(
        "other origins (https://host[:port]) a redirect or next link may lead to: followed without the configured headers, which go to the url's origin only",
      ),
    rateLimitPerSecond: z.number().min(0.01).max(10_000).default(5).describe('requests per second at most (at least one every 100 s)'),
    maxRetries: z.number().int().min(0).max(100).default(5).describe('retries of a request that timed out or got 429 or 5xx'),
    maxRetryWaitMs: z
      .number()
      .int()
      .min(0)
      .max(3_600_000)
      .default(60_000)
      .describe('the longest wait before a retry, whatever a Retry-After asks (each wait is logged and ends at once on SIGTERM)'),
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000).describe('time a request may take'),
    maxPageBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 ** 3)
      .default(64 * 1024 ** 2)
      .describe('the largest response body read; a larger page is refused (lower pageSize)'),
  })
  .strict();

export type RestConnectorConfig = z.output<typeof restConnectorSchema>;

/** `${VAR}` in header values, from the environment, so secrets stay out of the file. */
function withSecrets(config: RestConnectorConfig, env: NodeJS.ProcessEnv, setting: string): RestConnectorConfig {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.headers)) {
    headers[name] = value.replace(/\$\{([A-Z0-9_]+)\}/g, (_, variable: string) => {
      const v = env[variable];
      if (v === undefined) throw new ConfigError(`${setting}: header ${name} refers to \${${variable}}, which is not set.`);
      return v;
    });
  }
  return { ...config, headers };
}

function at(body: unknown, path: string): unknown {
  if (!path) return body;
  let node = body;
  for (const k of path.split('.')) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[k] : undefined;
  return node;
}

function nextLink(header: string | null): string | undefined {
  for (const part of header?.split(',') ?? []) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Position: `since` is the watermark this sync asked from (fixed while it pages), `watermark` the
 * newest update seen so far, `next` the cursor, page number or link of the next page (null: start).
 */
interface RestPosition extends Position {
  next: string | number | null;
  since: string | null;
  watermark: string | null;
}

class PageTooLargeError extends Error {}

/** A response body as text, read no further than `max` bytes: a page over it is refused rather than held in memory. */
async function boundedText(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw new PageTooLargeError();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > max) throw new PageTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Empty pages in a row, each naming a next one, after which a sync is taken to never end. */
const MAX_EMPTY_PAGES = 100;
/** Redirects followed for one request, as browsers cap them. */
const MAX_REDIRECTS = 5;

export class RestConnector implements Connector {
  readonly name: string;
  readonly source: string;
  private readonly home: string;
  private lastRequest = 0;
  /** The records of the page before, within one sync: a page that repeats them is the API looping. */
  private lastPage: string | undefined;
  /** Empty pages in a row that each named a next one: an API that never ends a sync. */
  private emptyPages = 0;

  constructor(private readonly config: RestConnectorConfig) {
    this.name = config.name;
    this.source = config.source;
    this.home = new URL(config.url).origin;
  }

  initial(): Position {
    const start = this.config.updatedSince?.initial ?? null;
    return { next: null, since: start, watermark: start } satisfies RestPosition;
  }

  async pull(from: Position, context: PullContext = {}): Promise<Page> {
    const pos = from as RestPosition;
    const c = this.config;
    if (pos.next === null) {
      this.lastPage = undefined;
      this.emptyPages = 0;
    }
    const url = new URL(c.pagination.type === 'link' && typeof pos.next === 'string' ? pos.next : c.url);
    if (!(c.pagination.type === 'link' && pos.next)) {
      if (c.updatedSince && pos.since) url.searchParams.set(c.updatedSince.param, pos.since);
      if (c.pageSize) url.searchParams.set(c.pageSize.param, String(c.pageSize.size));
      if (c.pagination.type === 'cursor' && pos.next !== null) url.searchParams.set(c.pagination.cursorParam, String(pos.next));
      if (c.pagination.type === 'page') url.searchParams.set(c.pagination.pageParam, String(pos.next ?? c.pagination.firstPage));
    }
    const { body, link, where } = await this.fetchWithRetry(url, context);
    const records = at(body, c.recordsPath);
    if (!Array.isArray(records)) throw new DependencyRefusedError('connector', `${c.name}: the response has no array at "${c.recordsPath || '(body)'}"`);
    const fingerprint = records.length > 0 ? hash('sha256', JSON.stringify(records), 'hex') : undefined;
    if (fingerprint !== undefined && fingerprint === this.lastPage)
      throw new ConnectorLoopError(`${c.name}: ${where} answered the same records as the page before; following it would loop for ever.`);
    this.lastPage = fingerprint;

    let watermark = pos.watermark;
    if (c.updatedSince) {
      for (const r of records) {
        const v = at(r, c.updatedSince.field);
        if (typeof v === 'string' && !Number.isNaN(Date.parse(v)) && (watermark === null || Date.parse(v) > Date.parse(watermark))) watermark = v;
      }
    }
    let next: string | number | null;
    if (c.pagination.type === 'cursor') {
      const cursor = at(body, c.pagination.nextCursorPath);
      next = typeof cursor === 'string' || typeof cursor === 'number' ? (cursor === '' ? null : cursor) : null;
      if (next !== null && next === pos.next)
        throw new ConnectorLoopError(`${c.name}: ${where} handed back the cursor it was asked with; following it would loop for ever.`);
    } else if (c.pagination.type === 'page') {
      const page = typeof pos.next === 'number' ? pos.next : c.pagination.firstPage;
      next = records.length === 0 || (c.pageSize && records.length < c.pageSize.size) ? null : page + 1;
    } else {
      next = link ?? null;
      // The next page is fetched with this connector's credentials only on their own origin: refused before its records are committed.
      if (next !== null) this.headersFor(new URL(next), where);
    }
    const caughtUp = next === null;
    this.emptyPages = records.length === 0 && !caughtUp ? this.emptyPages + 1 : 0;
    if (this.emptyPages >= MAX_EMPTY_PAGES)
      throw new ConnectorLoopError(
        `${c.name}: ${where} answered ${MAX_EMPTY_PAGES} empty pages in a row, each naming a next one; following it would never end.`,
      );
    // Caught up: the next sync asks for what changed since the newest record seen.
    const position: RestPosition = caughtUp ? { next: null, since: watermark, watermark } : { next, since: pos.since, watermark };
    return { records, next: position, caughtUp };
  }

  /**
   * The headers a request to `url` carries: the configured ones on the configured origin, none on
   * an origin `allowedOrigins` names; any other origin is refused, so credentials never leave home.
   */
  private headersFor(url: URL, from: string): Record<string, string> {
    if (url.origin === this.home) return this.config.headers;
    if (this.config.allowedOrigins.includes(url.origin)) return {};
    throw new DependencyRefusedError(
      'connector',
      `${from} leads to ${url.origin}, another origin than ${this.home}; not followed, so its credentials stay there (allowedOrigins may name it, to be followed without them)`,
    );
  }

  /** One page, at most `rateLimitPerSecond` requests a second; 429, 5xx, timeouts and network errors are retried, other answers fail at once. */
  private fetchWithRetry(url: URL, context: PullContext): Promise<{ body: unknown; link: string | undefined; where: string }> {
    const c = this.config;
    return retry(
      async () => {
        const wait = this.lastRequest + 1000 / c.rateLimitPerSecond - Date.now();
        if (wait > 0) await sleep(wait, undefined, { signal: context.signal });
        this.lastRequest = Date.now();
        return this.fetchFollowing(url, context.signal);
      },
      { retries: c.maxRetries, initialMs: 250, maxMs: 10_000, maxWaitMs: c.maxRetryWaitMs, signal: context.signal, onRetry: context.onRetry },
    );
  }

  /** One request, following redirects (each origin checked), its body read as JSON. */
  private async fetchFollowing(start: URL, signal: AbortSignal | undefined): Promise<{ body: unknown; link: string | undefined; where: string }> {
    const c = this.config;
    let url = start;
    /** What led here, for the refusal of another origin: the request itself, or the one that redirected to it. */
    let via = `${c.name}: ${url.origin}${url.pathname}`;
    for (let hops = 0; ; hops++) {
      const where = `${c.name}: ${url.origin}${url.pathname}`;
      const headers = this.headersFor(url, via);
      let res: Response;
      let text: string;
      try {
        const timeout = AbortSignal.timeout(c.timeoutMs);
        res = await fetch(url, { headers, redirect: 'manual', signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
        text = await boundedText(res, c.maxPageBytes);
      } catch (err) {
        if (err instanceof PageTooLargeError)
          throw new DependencyRefusedError('connector', `${where} answered a page over maxPageBytes (${c.maxPageBytes} bytes); lower pageSize`);
        throw new DependencyUnavailableError('connector', `${where} did not answer: ${describeError(err)}`, { cause: err });
      }
      const location = res.headers.get('location');
      if (REDIRECTS.has(res.status) && location) {
        if (hops >= MAX_REDIRECTS) throw new DependencyRefusedError('connector', `${where} redirected more than ${MAX_REDIRECTS} times`);
        via = where;
        url = new URL(location, url);
        continue;
      }
      if (!res.ok) throw httpError('connector', where, res.status, { retryAfter: res.headers.get('retry-after') });
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        // What the body says is not quoted: it may be an error page holding anything, personal data included.
        const what =
          text.trim() === '' ? 'an empty body' : `${Buffer.byteLength(text)} bytes that are not JSON (${res.headers.get('content-type') ?? 'no content-type'})`;
        throw new DependencyRefusedError('connector', `${where} answered ${res.status} with ${what}`);
      }
      const link = nextLink(res.headers.get('link'));
      return { body, link: link === undefined ? undefined : new URL(link, url).href, where };
    }
  }
}

export const restConnector = defineConnector({
  name: 'rest',
  description:
    "A generic REST API: records at a path of each response, cursor, page-number or Link-header pagination, an updated_since watermark for incremental sync, a request rate limit, and retries with backoff on 429, 5xx and timeouts (honouring Retry-After up to maxRetryWaitMs). `${VAR}` in headers comes from the environment; headers go to the url's origin only.",
  options: restConnectorSchema,
  create: (config, env, setting) => new RestConnector(withSecrets(config, env, setting)),
});
