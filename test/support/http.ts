/** A loopback HTTP server that answers each request from a script, for tests of how clients classify and retry what servers say. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Answer only after this long (a server that times out). */
  delayMs?: number;
}

export interface ScriptedServer {
  url: string;
  /** The answers still to give, in order; once empty, the last is repeated. */
  answers: Answer[];
  requests: string[];
  /** The headers of each request, in the same order. */
  headers: http.IncomingHttpHeaders[];
}

export function useScriptedServer(): ScriptedServer {
  const state: ScriptedServer = { url: '', answers: [], requests: [], headers: [] };
  let last: Answer = { status: 200, body: '{}' };
  const server = http.createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    state.headers.push(req.headers);
    req.resume();
    const answer = state.answers.shift() ?? last;
    last = answer;
    setTimeout(() => {
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body ?? '');
    }, answer.delayMs ?? 0);
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  return state;
}

/** The error a promise rejects with; a promise that resolves fails the test. */
export function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure, but it succeeded');
    },
    (e: unknown) => e as Error,
  );
}
