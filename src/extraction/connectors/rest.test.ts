// How the REST connector treats what a vendor API answers: a real fetch against a loopback server.
import { describe, expect, it } from 'vitest';
import { failureOf, useScriptedServer } from '../../../test/support/http.js';
import { ConnectorLoopError, isRetriable } from '../../contracts/errors.js';
import { RestConnector, restConnectorSchema } from './rest.js';

const page = (ids: string[], next: string | null) => ({
  status: 200,
  body: JSON.stringify({ tickets: ids.map((id) => ({ id })), meta: { next_cursor: next } }),
});

describe('REST connector answers', () => {
  const server = useScriptedServer();
  const connector = (o: { maxRetries?: number; timeoutMs?: number } = {}) =>
    new RestConnector(
      restConnectorSchema.parse({
        name: 'helpdesk',
        source: 'support',
        url: `${server.url}/api/tickets`,
        recordsPath: 'tickets',
        pagination: { type: 'cursor', nextCursorPath: 'meta.next_cursor' },
        rateLimitPerSecond: 1000,
        maxRetries: o.maxRetries ?? 3,
        timeoutMs: o.timeoutMs ?? 2_000,
      }),
    );
  const pull = (c = connector()) => c.pull(c.initial());

  it('a 404 fails at once with one sentence', async () => {
    server.answers = [{ status: 404, body: '{"error":"no such endpoint"}' }];
    server.requests.length = 0;
    const error = await failureOf(pull());
    expect(error.message).toBe(`helpdesk: ${server.url}/api/tickets answered 404; not retried`);
    expect(isRetriable(error)).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it.each([401, 403, 422])('a %i fails at once', async (status) => {
    server.answers = [{ status }];
    server.requests.length = 0;
    await expect(pull()).rejects.toThrow(`answered ${status}; not retried`);
    expect(server.requests).toHaveLength(1);
  });

  it('429 (with Retry-After) and 5xx are retried, then the page is read', async () => {
    server.answers = [{ status: 429, headers: { 'retry-after': '0' } }, { status: 500 }, { status: 503 }, page(['t-1', 't-2'], 'c2')];
    server.requests.length = 0;
    const p = await pull();
    expect(p.records.map((r) => (r as { id: string }).id)).toEqual(['t-1', 't-2']);
    expect(p.next).toMatchObject({ next: 'c2' });
    expect(server.requests).toHaveLength(4);
  });

  it('a request that times out is retried', async () => {
    server.answers = [{ ...page([], null), delayMs: 1_000 }, page(['t-3'], null)];
    const p = await pull(connector({ timeoutMs: 200 }));
    expect(p.records.map((r) => (r as { id: string }).id)).toEqual(['t-3']);
    expect(p.caughtUp).toBe(true);
  });

  it('gives up after maxRetries with the last answer', async () => {
    server.answers = [{ status: 502 }, { status: 502 }, { status: 502 }];
    server.requests.length = 0;
    await expect(pull(connector({ maxRetries: 2 }))).rejects.toThrow(`helpdesk: ${server.url}/api/tickets answered 502`);
    expect(server.requests).toHaveLength(3);
  });

  it('a body without the records array is refused, not retried', async () => {
    server.answers = [{ status: 200, body: '{"items":[]}' }];
    const error = await failureOf(pull());
    expect(error.message).toBe('helpdesk: the response has no array at "tickets"');
    expect(isRetriable(error)).toBe(false);
  });

  it.each([
    ['truncated JSON', '{"tickets":[{"id":"t-1"', 'text/plain', '23 bytes that are not JSON (text/plain)'],
    ['an empty body', '', 'application/json', 'an empty body'],
    ['an HTML page', '<html><body>Maintenance: ann@example.com</body></html>', 'text/html', '54 bytes that are not JSON (text/html)'],
  ])('%s ends the pull with one sentence naming the URL and status, quoting nothing of it', async (_what, body, type, said) => {
    server.answers = [{ status: 200, body, headers: { 'content-type': type } }];
    const error = await failureOf(pull());
    expect(error.message).toBe(`helpdesk: ${server.url}/api/tickets answered 200 with ${said}`);
    expect(isRetriable(error)).toBe(false);
  });

  it('a cursor handed back unchanged is a loop, a typed error', async () => {
    server.answers = [page(['t-1'], 'c1')];
    const c = connector();
    const first = await c.pull(c.initial());
    server.answers = [page(['t-2'], 'c1')];
    const error = await failureOf(c.pull(first.next));
    expect(error).toBeInstanceOf(ConnectorLoopError);
    expect((error as ConnectorLoopError).code).toBe('connector.page_repeated');
  });

  it('empty pages that each name a next one are a loop after a hundred in a row', async () => {
    const c = connector();
    let pos = c.initial();
    for (let i = 0; i < 99; i++) {
      server.answers = [page([], `empty-${i}`)];
      pos = (await c.pull(pos)).next;
    }
    server.answers = [page([], 'empty-99')];
    await expect(c.pull(pos)).rejects.toThrow(`helpdesk: ${server.url}/api/tickets answered 100 empty pages in a row, each naming a next one`);
  });

  it('a page that repeats the records of the page before is a loop (a server ignoring the page parameter)', async () => {
    const c = new RestConnector(
      restConnectorSchema.parse({ name: 'paged', source: 'support', url: `${server.url}/api/list`, pagination: { type: 'page' }, rateLimitPerSecond: 1000 }),
    );
    server.answers = [
      { status: 200, body: '[{"id":"a"},{"id":"b"}]' },
      { status: 200, body: '[{"id":"a"},{"id":"b"}]' },
    ];
    const first = await c.pull(c.initial());
    await expect(c.pull(first.next)).rejects.toThrow(`paged: ${server.url}/api/list answered the same records as the page before`);
  });

  it('a Retry-After of a day waits no longer than maxRetryWaitMs, says so, and a stop ends the wait at once', async () => {
    const waits: number[] = [];
    const c = new RestConnector(
      restConnectorSchema.parse({
        name: 'slow',
        source: 'support',
        url: `${server.url}/api/tickets`,
        recordsPath: 'tickets',
        pagination: { type: 'cursor', nextCursorPath: 'meta.next_cursor' },
        rateLimitPerSecond: 1000,
        maxRetryWaitMs: 50,
      }),
    );
    server.answers = [{ status: 429, headers: { 'retry-after': '86400' } }, page(['t-9'], null)];
    const p = await c.pull(c.initial(), { onRetry: (_e, _a, ms) => waits.push(ms) });
    expect(waits).toEqual([50]);
    expect(p.records).toEqual([{ id: 't-9' }]);

    const abort = new AbortController();
    const long = new RestConnector(
      restConnectorSchema.parse({
        ...restConnectorSchema.parse({ name: 'slow', source: 'support', url: `${server.url}/x`, pagination: { type: 'link' } }),
        maxRetryWaitMs: 3_600_000,
      }),
    );
    server.answers = [{ status: 503, headers: { 'retry-after': '86400' } }];
    const started = Date.now();
    const pulling = failureOf(long.pull(long.initial(), { signal: abort.signal, onRetry: () => setTimeout(() => abort.abort(), 20) }));
    expect((await pulling).message).toContain('answered 503');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('REST connector settings', () => {
  const settings = (extra: Record<string, unknown>) =>
    restConnectorSchema.safeParse({ name: 'x', source: 'support', url: 'https://api.example/v1', pagination: { type: 'link' }, ...extra });
  const problem = (extra: Record<string, unknown>) => {
    const parsed = settings(extra);
    return parsed.success ? 'accepted' : `${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`;
  };

  it('refuses a URL that is not http(s) or that holds credentials, a header that could smuggle another, and a rate that would wait for ages', () => {
    expect(problem({ url: 'file:///etc/passwd' })).toBe('url: must be an http(s) URL');
    expect(problem({ url: 'https://user:secret@api.example/v1' })).toBe('url: must not hold credentials: put them in headers, from ${VAR}');
    expect(problem({ headers: { 'x-a': 'b\r\nx-evil: 1' } })).toBe('headers.x-a: must not hold line breaks or NUL');
    expect(problem({ headers: { 'bad header': 'v' } })).toBe('headers: must have HTTP header names');
    expect(problem({ rateLimitPerSecond: 0.000001 })).toMatch(/^rateLimitPerSecond: /);
    expect(problem({ allowedOrigins: ['ftp://files.example'] })).toBe('allowedOrigins.0: must be an http(s) origin');
    expect(problem({ allowedOrigins: ['https://files.example/any/path'] })).toBe('accepted');
    expect(settings({ allowedOrigins: ['https://files.example/any/path'] }).data?.allowedOrigins).toEqual(['https://files.example']);
  });
});

describe('REST connector page size', () => {
  const server = useScriptedServer();
  it('refuses a page over maxPageBytes without holding it, whether its length is declared or not', async () => {
    const c = new RestConnector(
      restConnectorSchema.parse({
        name: 'big',
        source: 'support',
        url: `${server.url}/p`,
        pagination: { type: 'link' },
        maxPageBytes: 1024,
        rateLimitPerSecond: 1000,
      }),
    );
    server.answers = [{ status: 200, body: JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i }))) }];
    await expect(c.pull(c.initial())).rejects.toThrow(`big: ${server.url}/p answered a page over maxPageBytes (1024 bytes); lower pageSize`);
  });
});

describe('REST connector credentials stay at their origin', () => {
  const home = useScriptedServer();
  const elsewhere = useScriptedServer();
  const connector = (extra: Record<string, unknown> = {}) =>
    new RestConnector(
      restConnectorSchema.parse({
        name: 'crm-api',
        source: 'crm',
        url: `${home.url}/v1/contacts`,
        headers: { authorization: 'Bearer secret-token', 'x-api-key': 'k-123' },
        recordsPath: 'data',
        pagination: { type: 'link' },
        rateLimitPerSecond: 1000,
        ...extra,
      }),
    );
  const reset = () => {
    for (const s of [home, elsewhere]) {
      s.requests.length = 0;
      s.headers.length = 0;
    }
  };

  it('a redirect to another origin is refused, and nothing is sent there', async () => {
    reset();
    home.answers = [{ status: 302, headers: { location: `${elsewhere.url}/steal` } }];
    const error = await failureOf(connector().pull(connector().initial()));
    expect(error.message).toBe(
      `crm-api: ${home.url}/v1/contacts leads to ${elsewhere.url}, another origin than ${home.url}; not followed, so its credentials stay there (allowedOrigins may name it, to be followed without them)`,
    );
    expect(isRetriable(error)).toBe(false);
    expect(elsewhere.requests).toEqual([]);
  });

  it('a redirect within the origin is followed with the credentials; to an allowed origin, without them', async () => {
    reset();
    home.answers = [
      { status: 301, headers: { location: '/v2/contacts' } },
      { status: 200, body: '{"data":[{"id":1}]}' },
    ];
    expect((await connector().pull(connector().initial())).records).toEqual([{ id: 1 }]);
    expect(home.requests).toEqual(['GET /v1/contacts', 'GET /v2/contacts']);
    expect(home.headers.map((h) => h.authorization)).toEqual(['Bearer secret-token', 'Bearer secret-token']);

    reset();
    home.answers = [{ status: 307, headers: { location: `${elsewhere.url}/export/1` } }];
    elsewhere.answers = [{ status: 200, body: '{"data":[{"id":2}]}' }];
    const allowed = connector({ allowedOrigins: [elsewhere.url] });
    expect((await allowed.pull(allowed.initial())).records).toEqual([{ id: 2 }]);
    expect(elsewhere.requests).toEqual(['GET /export/1']);
    expect(elsewhere.headers[0]!.authorization).toBeUndefined();
    expect(elsewhere.headers[0]!['x-api-key']).toBeUndefined();
  });

  it('a next link on another origin is refused before its page is committed; on an allowed origin it is fetched without credentials', async () => {
    reset();
    home.answers = [{ status: 200, body: '{"data":[{"id":1}]}', headers: { link: `<${elsewhere.url}/v1/contacts?page=2>; rel="next"` } }];
    await expect(connector().pull(connector().initial())).rejects.toThrow(`leads to ${elsewhere.url}, another origin than ${home.url}`);
    expect(elsewhere.requests).toEqual([]);

    reset();
    const allowed = connector({ allowedOrigins: [elsewhere.url] });
    const first = await allowed.pull(allowed.initial());
    elsewhere.answers = [{ status: 200, body: '{"data":[{"id":3}]}' }];
    expect((await allowed.pull(first.next)).records).toEqual([{ id: 3 }]);
    expect(elsewhere.headers[0]!.authorization).toBeUndefined();
  });
});
