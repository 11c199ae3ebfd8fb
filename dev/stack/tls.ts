/**
 * The local stack's TLS material, made once with openssl in its state folder: a CA, the broker's
 * certificate (for 127.0.0.1), and a client certificate for the mutual-TLS listener. Kafka reads
 * them as PEM files; clients get the CA (and the client pair) through KAFKA_SSL_CA_FILE,
 * KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PrerequisiteError, StackError } from '../../src/contracts/errors.js';
import { LOOPBACK } from './versions.js';

export interface StackTls {
  ca: string;
  /** The broker's key and certificate in one PEM file, as Kafka's PEM keystore takes them. */
  brokerKeystore: string;
  clientCert: string;
  clientKey: string;
}

function openssl(cwd: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error)
    throw new PrerequisiteError('The local stack makes its TLS certificates with openssl, which is not installed (Debian: apt-get install openssl).');
  if (r.status !== 0) throw new StackError(`openssl ${args[0]} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`);
}

/** A key and a certificate for `cn`, signed by the CA, for the server name 127.0.0.1. */
function issue(dir: string, name: string, cn: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=IP:${LOOPBACK}\n`);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '3650',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function ensureStackTls(stateDir: string): StackTls {
  const dir = path.join(stateDir, 'tls');
  const tls: StackTls = {
    ca: path.join(dir, 'ca.pem'),
    brokerKeystore: path.join(dir, 'broker-keystore.pem'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client.key'),
  };
  if (Object.values(tls).every((f) => fs.existsSync(f))) return tls;
  fs.mkdirSync(dir, { recursive: true });
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650', '-subj', '/CN=c360 local stack CA']);
  issue(dir, 'broker', LOOPBACK);
  issue(dir, 'client', 'c360-client');
  fs.writeFileSync(tls.brokerKeystore, fs.readFileSync(path.join(dir, 'broker.key'), 'utf8') + fs.readFileSync(path.join(dir, 'broker.pem'), 'utf8'));
  return tls;
}
