/**
 * An OIDC provider on loopback for the tests of clients that authenticate through one: discovery,
 * a JWKS, and a client-credentials token endpoint (client id and secret in a Basic header or in
 * the form). Tokens are RS256-signed (what Quarkus, hence Apicurio, verifies) or unsigned (`alg:
 * none`, what Kafka's unsecured-JWS validator takes); a client marked `expired` gets tokens that
 * expired an hour ago.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK } from '../../dev/stack/versions.js';

export interface OidcClient {
  id: string;
  secret: string;
  expired?: boolean;
}

export interface OidcProvider {
  /** The issuer, under which `/.well-known/openid-configuration` answers. */
  issuer: string;
  tokenUrl: string;
  /** Every token request, in order. */
  requests: Array<{ authorization: string; form: URLSearchParams }>;
  close(): Promise<void>;
}

const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

export async function startOidcProvider(clients: OidcClient[], signing: 'RS256' | 'none'): Promise<OidcProvider> {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const requests: OidcProvider['requests'] = [];
  let issuer = '';
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      const url = req.url ?? '';
      if (url.endsWith('/.well-known/openid-configuration')) {
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/certs`, token_endpoint: `${issuer}/token`, id_token_signing_alg_values_supported: ['RS256'] }));
        return;
      }
      if (url.endsWith('/certs')) {
        res.end(JSON.stringify({ keys: [jwk] }));
        return;
      }
      // Apicurio asks with a trailing slash.
      if (!/\/token\/?$/.test(url)) {
        res.statusCode = 404;
        res.end('{}');
        return;
      }
      const form = new URLSearchParams(body);
      requests.push({ authorization: req.headers.authorization ?? '', form });
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      const [id, secret] = basic ? Buffer.from(basic[1]!, 'base64').toString().split(':') : [form.get('client_id'), form.get('client_secret')];
      const client = clients.find((c) => c.id === id && c.secret === secret);
      if (!client || form.get('grant_type') !== 'client_credentials') {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'invalid_client' }));
        return;
      }
      const iat = Math.floor(Date.now() / 1000) - (client.expired ? 7200 : 0);
      const claims = part({ iss: issuer, sub: client.id, azp: client.id, iat, exp: iat + 3600, scope: form.get('scope') ?? '' });
      const header = part(signing === 'RS256' ? { alg: 'RS256', kid: jwk.kid, typ: 'JWT' } : { alg: 'none' });
      const signature = signing === 'RS256' ? crypto.sign('RSA-SHA256', Buffer.from(`${header}.${claims}`), privateKey).toString('base64url') : '';
      res.end(JSON.stringify({ access_token: `${header}.${claims}.${signature}`, token_type: 'Bearer', expires_in: 3600 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  issuer = `http://${LOOPBACK}:${(server.address() as AddressInfo).port}/realms/test`;
  return { issuer, tokenUrl: `${issuer}/token`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
