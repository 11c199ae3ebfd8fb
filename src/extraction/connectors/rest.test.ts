// How the REST connector treats what a vendor API answers: a real fetch against a loopback server.
import { describe, expect, it } from 'vitest';
import { failureOf, useScriptedServer } from '../../../test/support/http.js';
import { isRetriable } from '../../contracts/errors.js';
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
    expect(p.records.map((r) => r.id)).toEqual(['t-1', 't-2']);
    expect(p.next).toMatchObject({ next: 'c2' });
    expect(server.requests).toHaveLength(4);
  });

  it('a request that times out is retried', async () => {
    server.answers = [{ ...page([], null), delayMs: 1_000 }, page(['t-3'], null)];
    const p = await pull(connector({ timeoutMs: 200 }));
    expect(p.records.map((r) => r.id)).toEqual(['t-3']);
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
});
