// Secured connections, against the local broker's own TLS listeners (dev/stack/kafka.ts: TLS on
// 9094, mutual TLS on 9095, certificates from the stack's CA): every client — the workers'
// KafkaJS clients, the CLI, the readiness probe — uses KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE and
// KAFKA_SSL_KEY_FILE; a handshake the broker refuses is one sentence naming those settings.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createServer as tlsServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { stackPaths } from '../../dev/stack/paths.js';
import { KAFKA_MTLS_PORT, KAFKA_TLS_PORT, LOOPBACK } from '../../dev/stack/versions.js';
import { config } from '../../test/support/kafka.js';
import { testNamespace } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import { loadConfig } from '../config.js';
import { kafkaAnswers } from '../observability/probes.js';

const tls = path.join(stackPaths(config.home).state, 'tls');
const TLS = `${LOOPBACK}:${KAFKA_TLS_PORT}`;
const MTLS = `${LOOPBACK}:${KAFKA_MTLS_PORT}`;
const ca = { KAFKA_SSL_CA_FILE: path.join(tls, 'ca.pem') };
const client = { KAFKA_SSL_CERT_FILE: path.join(tls, 'client.pem'), KAFKA_SSL_KEY_FILE: path.join(tls, 'client.key') };

describe('TLS and mutual TLS to Kafka', () => {
  it('the probe reaches the TLS listener with the CA file, and the mutual-TLS one only with a client certificate', async () => {
    const kafka = (brokers: string, env: Record<string, string>) => loadConfig({ KAFKA_BROKERS: brokers, ...env }).kafka;
    expect(await kafkaAnswers(kafka(TLS, ca))).toBe(true);
    expect(await kafkaAnswers(kafka(TLS, { KAFKA_SSL: 'true' }))).toBe(false);
    expect(await kafkaAnswers(kafka(MTLS, { ...ca, ...client }))).toBe(true);
    expect(await kafkaAnswers(kafka(MTLS, ca))).toBe(false);
  });

  it('c360 creates and checks topics over TLS and mutual TLS from the environment, and names a refused handshake in one sentence', async () => {
    const ns = testNamespace();
    expect(await runCli(['topics', 'create', '--namespace', ns], { KAFKA_BROKERS: TLS, ...ca })).toMatchObject({ code: 0 });
    expect(await runCli(['topics', 'check', '--namespace', ns], { KAFKA_BROKERS: MTLS, ...ca, ...client })).toMatchObject({
      code: 0,
      stdout: 'every topic matches the topology\n',
    });
    const refused = await runCli(['topics', 'check', '--namespace', ns], { KAFKA_BROKERS: MTLS, ...ca });
    expect(refused.code).toBe(1);
    // Besides KafkaJS's own log lines (JSON, at error level), the one sentence of the command.
    expect(refused.stderr.split('\n').filter((l) => l.startsWith('c360:'))).toEqual([
      'c360: the TLS handshake with Kafka failed (ssl/tls alert bad certificate): check KAFKA_SSL, KAFKA_SSL_CA_FILE, and for mutual TLS KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE.',
    ]);
    expect(refused.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
    // A broker certificate this client does not trust (no CA file): the same, from the client's side.
    const untrusted = await runCli(['topics', 'check', '--namespace', ns], { KAFKA_BROKERS: TLS, KAFKA_SSL: 'true' });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr.split('\n').filter((l) => l.startsWith('c360:'))).toEqual([
      'c360: the TLS handshake with Kafka failed (unable to verify the first certificate): check KAFKA_SSL, KAFKA_SSL_CA_FILE, and for mutual TLS KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE.',
    ]);
  });

  it('a refused handshake is tried once, not through KafkaJS retries', async () => {
    // A TLS endpoint with the broker's certificate that counts the connections made to it: one attempt each way.
    const key = fs.readFileSync(path.join(tls, 'broker.key'));
    const cert = fs.readFileSync(path.join(tls, 'broker.pem'));
    for (const [why, options, env] of [
      ['this client does not trust the certificate', {}, { KAFKA_SSL: 'true' }],
      ['the endpoint requires a client certificate', { requestCert: true, rejectUnauthorized: true, ca: fs.readFileSync(ca.KAFKA_SSL_CA_FILE) }, ca],
    ] as const) {
      let connections = 0;
      const server = tlsServer({ key, cert, ...options }, (socket) => socket.destroy());
      server.on('connection', () => connections++);
      server.on('tlsClientError', () => undefined);
      await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
      try {
        const broker = `${LOOPBACK}:${(server.address() as AddressInfo).port}`;
        const refused = await runCli(['topics', 'check', '--namespace', testNamespace()], { KAFKA_BROKERS: broker, ...env });
        expect(refused.code, why).toBe(1);
        expect(connections, why).toBe(1);
      } finally {
        server.close();
      }
    }
  });

  it('a TLS setting that cannot work is one sentence and exit 2, before any connection', async () => {
    expect(await runCli(['topics', 'check'], { KAFKA_BROKERS: TLS, KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' })).toMatchObject({
      code: 2,
      stderr: 'c360: KAFKA_SSL_CA_FILE /nonexistent/ca.pem cannot be read.\n',
    });
    expect(await runCli(['topics', 'check'], { KAFKA_BROKERS: MTLS, ...ca, KAFKA_SSL_CERT_FILE: client.KAFKA_SSL_CERT_FILE })).toMatchObject({
      code: 2,
      stderr: 'c360: KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together: set both for mutual TLS, or neither.\n',
    });
  });
});
