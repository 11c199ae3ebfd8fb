/**
 * A TCP proxy on loopback in front of a real server (S3Mock, the registry), that a test switches
 * between passing traffic and failing the way a network or a server fails: answering 503 (busy) or
 * 403 (a permission revoked),
 * resetting connections, refusing them (nothing listens on the port), or accepting and never
 * answering. The server behind it is real; only the path to it breaks.
 */
import net from 'node:net';

export type FaultMode = 'pass' | '503' | '403' | 'reset' | 'refuse' | 'hang';

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`, stable across modes (refuse closes the port, pass reopens it). */
  readonly url: string;
  readonly port: number;
  readonly mode: FaultMode;
  set(mode: FaultMode): Promise<void>;
  /** Connections accepted in each mode so far. */
  readonly accepted: Record<FaultMode, number>;
  close(): Promise<void>;
}

/** An S3-style error answer, connection closed after it. */
function answer(status: string, code: string, message: string): string {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  return `HTTP/1.1 ${status}\r\ncontent-type: application/xml\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
const ANSWERS: Partial<Record<FaultMode, string>> = {
  '503': answer('503 Service Unavailable', 'SlowDown', 'Please reduce your request rate.'),
  '403': answer('403 Forbidden', 'AccessDenied', 'Access Denied'),
};

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  const sockets = new Set<net.Socket>();
  const accepted: Record<FaultMode, number> = { pass: 0, '503': 0, '403': 0, reset: 0, refuse: 0, hang: 0 };

  const onConnection = (client: net.Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    accepted[mode]++;
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'hang') {
      client.resume();
      return;
    }
    const canned = ANSWERS[mode];
    if (canned) {
      client.once('data', () => client.end(canned));
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
    const pipe = { client, upstream };
    piped.add(pipe);
    client.on('close', () => piped.delete(pipe));
  };
  const piped = new Set<{ client: net.Socket; upstream: net.Socket }>();
  /** A server that stops answering stops answering the connections it already has too. */
  const freeze = () => {
    for (const { client, upstream } of piped) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      upstream.pause();
      client.resume();
    }
  };

  let server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  const listen = async () => {
    server = net.createServer(onConnection);
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        return;
      } catch (err) {
        if (attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  /** Every connection in flight fails with the new mode's failure: a server that goes away takes its connections with it. */
  const dropAll = () => {
    for (const s of sockets) s.resetAndDestroy();
    sockets.clear();
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    accepted,
    async set(next: FaultMode) {
      if (next === mode) return;
      const wasListening = mode !== 'refuse';
      mode = next;
      if (next === 'hang') freeze();
      else dropAll();
      if (next === 'refuse' && wasListening) await stopListening();
      if (next !== 'refuse' && !wasListening) await listen();
    },
    async close() {
      dropAll();
      if (mode !== 'refuse') await stopListening();
    },
  };
}
