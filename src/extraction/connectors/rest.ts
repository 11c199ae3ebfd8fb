/**
 * The generic REST connector, configured by a JSON file: a URL, auth headers (with `${ENV}`
 * references, so secrets stay out of the file), where the records are in the response, one of
 * three paginations (a cursor in the body, page numbers, or the `Link: <…>; rel="next"` header),
 * an `updated_since` watermark for incremental sync, a request rate limit, and retries with
 * backoff on 429 and 5xx (honouring Retry-After).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfigError, DependencyRefusedError, DependencyUnavailableError, describeError, httpError } from '../../contracts/errors.js';
import { retry } from '../../retry.js';
import { type Connector, defineConnector, type Page, type Position } from './connector.js';

export const restConnectorSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lower-case letters, digits, dots, dashes or underscores')
      .describe('the connector, in its state key, ingest ids and logs'),
    source: z.string().describe('the topology source its records belong to'),
    url: z.url({ message: 'must be an http(s) URL' }).describe('the first page'),
    headers: z.record(z.string(), z.string()).default({}).describe('request headers; ${VAR} is read from the environment'),
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
    rateLimitPerSecond: z.number().positive().default(5).describe('requests per second at most'),
    maxRetries: z.number().int().min(0).default(5).describe('retries of a request that timed out or got 429 or 5xx'),
    timeoutMs: z.number().int().min(100).default(30_000).describe('time a request may take'),
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

export class RestConnector implements Connector {
  readonly name: string;
  readonly source: string;
  private lastRequest = 0;

  constructor(private readonly config: RestConnectorConfig) {
    this.name = config.name;
    this.source = config.source;
  }

  initial(): Position {
    const start = this.config.updatedSince?.initial ?? null;
    return { next: null, since: start, watermark: start } satisfies RestPosition;
  }

  async pull(from: Position): Promise<Page> {
    const pos = from as RestPosition;
    const c = this.config;
    const url = new URL(c.pagination.type === 'link' && typeof pos.next === 'string' ? pos.next : c.url);
    if (!(c.pagination.type === 'link' && pos.next)) {
      if (c.updatedSince && pos.since) url.searchParams.set(c.updatedSince.param, pos.since);
      if (c.pageSize) url.searchParams.set(c.pageSize.param, String(c.pageSize.size));
      if (c.pagination.type === 'cursor' && pos.next !== null) url.searchParams.set(c.pagination.cursorParam, String(pos.next));
      if (c.pagination.type === 'page') url.searchParams.set(c.pagination.pageParam, String(pos.next ?? c.pagination.firstPage));
    }
    const res = await this.fetchWithRetry(url);
    const body = (await res.json()) as unknown;
    const records = at(body, c.recordsPath);
    if (!Array.isArray(records)) throw new DependencyRefusedError('connector', `${c.name}: the response has no array at "${c.recordsPath || '(body)'}"`);

    let watermark = pos.watermark;
    if (c.updatedSince) {
      for (const r of records as Array<Record<string, unknown>>) {
        const v = at(r, c.updatedSince.field);
        if (typeof v === 'string' && (watermark === null || Date.parse(v) > Date.parse(watermark))) watermark = v;
      }
    }
    let next: string | number | null;
    if (c.pagination.type === 'cursor') {
      const cursor = at(body, c.pagination.nextCursorPath);
      next = typeof cursor === 'string' || typeof cursor === 'number' ? (cursor === '' ? null : cursor) : null;
    } else if (c.pagination.type === 'page') {
      const page = typeof pos.next === 'number' ? pos.next : c.pagination.firstPage;
      next = records.length === 0 || (c.pageSize && records.length < c.pageSize.size) ? null : page + 1;
    } else {
      next = nextLink(res.headers.get('link')) ?? null;
    }
    const caughtUp = next === null;
    // Caught up: the next sync asks for what changed since the newest record seen.
    const position: RestPosition = caughtUp ? { next: null, since: watermark, watermark } : { next, since: pos.since, watermark };
    return { records: records as Array<Record<string, unknown>>, next: position, caughtUp };
  }

  /** One page, at most `rateLimitPerSecond` requests a second; 429, 5xx, timeouts and network errors are retried, other answers fail at once. */
  private fetchWithRetry(url: URL): Promise<Response> {
    const c = this.config;
    const where = `${c.name}: ${url.origin}${url.pathname}`;
    return retry(
      async () => {
        const wait = this.lastRequest + 1000 / c.rateLimitPerSecond - Date.now();
        if (wait > 0) await sleep(wait);
        this.lastRequest = Date.now();
        let res: Response;
        try {
          res = await fetch(url, { headers: c.headers, signal: AbortSignal.timeout(c.timeoutMs) });
        } catch (err) {
          throw new DependencyUnavailableError('connector', `${where} did not answer: ${describeError(err)}`, { cause: err });
        }
        if (res.ok) return res;
        throw httpError('connector', where, res.status, { retryAfter: res.headers.get('retry-after') });
      },
      { retries: c.maxRetries, initialMs: 250, maxMs: 10_000 },
    );
  }
}

export const restConnector = defineConnector({
  name: 'rest',
  description:
    'A generic REST API: records at a path of each response, cursor, page-number or Link-header pagination, an updated_since watermark for incremental sync, a request rate limit, and retries with backoff on 429, 5xx and timeouts (honouring Retry-After). `${VAR}` in headers comes from the environment.',
  options: restConnectorSchema,
  create: (config, env, setting) => new RestConnector(withSecrets(config, env, setting)),
});
