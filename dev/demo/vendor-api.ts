/**
 * A support tool's REST API on loopback, for the demo and the connector tests: tickets with
 * `updated_at`, listed oldest first with cursor, page or Link-header pagination and an
 * `updated_since` filter, behind a bearer token. It can answer 429 or 503 to the next requests,
 * and records what it was asked.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Ticket {
  interaction_id: string;
  updated_at: string;
  [field: string]: unknown;
}

export class VendorApi {
  tickets: Ticket[] = [];
  requests: string[] = [];
  /** Status codes to answer the next requests with, before answering normally. */
  failures: number[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));
  url = '';

  constructor(private readonly token: string) {}

  add(count: number, updatedAt: (i: number) => string): void {
    const start = this.tickets.length;
    for (let i = start + 1; i <= start + count; i++) {
      this.tickets.push({
        interaction_id: `S-${i}`,
        channel: 'EMAIL',
        email: `t${i}@example.com`,
        opened_at: '2026-11-20T09:00:00Z',
        status: 'OPEN',
        updated_at: updatedAt(i),
      });
    }
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push(url.pathname + url.search);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${this.token}`) return json(401, { error: 'unauthorized' });
    const failure = this.failures.shift();
    if (failure) return json(failure, { error: 'try later' }, failure === 429 ? { 'retry-after': '0' } : {});
    const since = url.searchParams.get('updated_since');
    const matching = this.tickets.filter((t) => !since || Date.parse(t.updated_at) > Date.parse(since));
    const size = Number(url.searchParams.get('per_page') ?? 10);
    if (url.pathname === '/api/tickets') {
      const offset = Number(url.searchParams.get('cursor') ?? 0);
      const page = matching.slice(offset, offset + size);
      const next = offset + size < matching.length ? String(offset + size) : null;
      return json(200, { tickets: page, meta: { next_cursor: next } });
    }
    if (url.pathname === '/api/tickets-by-page') {
      const page = Number(url.searchParams.get('page') ?? 1);
      return json(200, matching.slice((page - 1) * size, page * size));
    }
    if (url.pathname === '/api/tickets-linked') {
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const next =
        offset + size < matching.length
          ? `<${this.url}/api/tickets-linked?offset=${offset + size}&per_page=${size}${since ? `&updated_since=${encodeURIComponent(since)}` : ''}>; rel="next"`
          : undefined;
      return json(200, { data: matching.slice(offset, offset + size) }, next ? { link: next } : {});
    }
    json(404, { error: 'not found' });
  }
}
