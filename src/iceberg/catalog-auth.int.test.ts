// OAuth2 client credentials against the real reference REST catalog, as Polaris and other
// secured catalogs are reached: the credential goes to the token endpoint only (the catalog's own
// /v1/oauth/tokens, or an identity provider), the token to the catalog only, a 401 renews it once,
// and a refused credential is one sentence naming the settings. A recording proxy in front of the
// catalog sees every request. AWS SigV4 (Glue, S3 Tables) is checked against a signature computed
// apart from the signer c360 uses.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG_URL } from '../../dev/stack/catalog.js';
import { type OidcProvider, startOidcProvider } from '../../test/support/oidc-provider.js';
import { testNamespace } from '../../test/support/topology.js';
import { loadConfig } from '../config.js';
import { DependencyRefusedError } from '../contracts/errors.js';
import { RestCatalog } from './rest-catalog.js';

interface Seen {
  method: string;
  path: string;
  authorization: string;
  headers: Record<string, string>;
  body: string;
}

/** Forwards to the local catalog, recording each request; answers 401 to the next `reject` authorized ones. */
class RecordingProxy {
  readonly seen: Seen[] = [];
  reject = 0;
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const authorization = req.headers.authorization ?? '';
      this.seen.push({ method: req.method ?? '', path: req.url ?? '', authorization, headers: req.headers as Record<string, string>, body: body.toString() });
      if (authorization && this.reject > 0) {
        this.reject--;
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"token expired","type":"NotAuthorizedException","code":401}}');
        return;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<
        string,
        string
      >;
      const answer = await fetch(`${CATALOG_URL}${req.url}`, { method: req.method ?? 'GET', headers, ...(body.length ? { body } : {}) });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const SECRET = 'catalog-client-secret-0123456789';

describe('the REST catalog with OAuth2 client credentials', () => {
  const proxy = new RecordingProxy();
  let url: string;
  let idp: OidcProvider;

  beforeAll(async () => {
    url = await proxy.listen();
    idp = await startOidcProvider([{ id: 'c360-writer', secret: SECRET }], 'RS256');
  });
  afterAll(async () => {
    await proxy.close();
    await idp.close();
  });

  const catalogOf = (env: Record<string, string>) => new RestCatalog(loadConfig({ C360_CATALOG_URL: url, ...env }).catalog!);

  it("takes a token from the catalog's own endpoint by default, with the credential in the form, and sends only the token on", async () => {
    const ns = testNamespace();
    await catalogOf({ C360_CATALOG_CREDENTIAL: `c360-writer:${SECRET}` }).ensureNamespace(ns);
    const [grant, ...calls] = proxy.seen.splice(0);
    expect(grant).toMatchObject({ method: 'POST', path: '/v1/oauth/tokens', authorization: '' });
    expect(Object.fromEntries(new URLSearchParams(grant!.body))).toEqual({
      grant_type: 'client_credentials',
      client_id: 'c360-writer',
      client_secret: SECRET,
      scope: 'catalog',
    });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /v1/config', 'POST /v1/namespaces']);
    // The reference catalog's token for this client.
    for (const c of calls) expect(c.authorization).toBe('Bearer client-credentials-token:sub=c360-writer');
    for (const c of calls) expect(c.body).not.toContain(SECRET);
  });

  it('asks an identity provider when told, renews the token once on a 401, and names the settings when the credential is refused', async () => {
    const catalog = catalogOf({
      C360_CATALOG_CREDENTIAL: `c360-writer:${SECRET}`,
      C360_CATALOG_OAUTH2_SERVER_URI: idp.tokenUrl,
      C360_CATALOG_SCOPE: 'PRINCIPAL_ROLE:ALL',
    });
    const ns = testNamespace();
    proxy.reject = 1;
    await catalog.ensureNamespace(ns);
    expect(await catalog.loadTable(ns, 'nothing_here')).toBeUndefined();
    const calls = proxy.seen.splice(0);
    // The first call met the 401: a second token, then the same call again and on.
    expect(calls.map((c) => `${c.method} ${c.path} ${c.authorization.slice(0, 7)}`)).toEqual([
      'GET /v1/config Bearer ',
      'GET /v1/config Bearer ',
      'POST /v1/namespaces Bearer ',
      `GET /v1/namespaces/${ns}/tables/nothing_here Bearer `,
    ]);
    expect(idp.requests.map((r) => r.form.get('scope'))).toEqual(['PRINCIPAL_ROLE:ALL', 'PRINCIPAL_ROLE:ALL']);
    expect(calls.every((c) => !c.authorization.includes(SECRET) && !c.body.includes(SECRET))).toBe(true);

    const wrong = catalogOf({ C360_CATALOG_CREDENTIAL: 'c360-writer:not-the-secret', C360_CATALOG_OAUTH2_SERVER_URI: idp.tokenUrl });
    const refused = await wrong.ensureNamespace(testNamespace()).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DependencyRefusedError);
    expect((refused as Error).message).toBe(
      `the token endpoint ${idp.tokenUrl} refused the client credentials (401 invalid_client); not retried: check C360_CATALOG_CREDENTIAL and C360_CATALOG_SCOPE`,
    );
    // Refused before the catalog was asked anything.
    expect(proxy.seen).toEqual([]);
  });

  it('refuses a token and a credential together, and never shows either in its message', () => {
    expect(() => loadConfig({ C360_CATALOG_URL: url, C360_CATALOG_TOKEN: 't0k3n', C360_CATALOG_CREDENTIAL: `c360-writer:${SECRET}` })).toThrow(
      'C360_CATALOG_TOKEN and C360_CATALOG_CREDENTIAL are both set: set one of them.',
    );
    expect(() => loadConfig({ C360_CATALOG_URL: url, C360_CATALOG_CREDENTIAL: SECRET })).toThrow(
      'C360_CATALOG_CREDENTIAL must be <client_id>:<client_secret> (got "(hidden)")',
    );
  });
});

/**
 * The SigV4 signature of a request as AWS computes it (docs: "Create a signed AWS API request"),
 * written here apart from the signer c360 uses, to check what was sent against what was signed.
 */
function expectedSignature(seen: Seen, host: string, secret: string): { signature: string; credential: string } {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(seen.authorization)!;
  const [, credential, signedHeaders] = auth;
  const [, day, region, service] = credential!.split('/');
  const u = new URL(`http://${host}${seen.path}`);
  const headers: Record<string, string> = { ...seen.headers, host };
  const names = signedHeaders!.split(';');
  const query = [...u.searchParams]
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])
    .sort(([a], [b]) => (a! < b! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const payload = createHash('sha256').update(seen.body).digest('hex');
  const canonical = [seen.method, u.pathname, query, ...names.map((n) => `${n}:${headers[n]!.trim()}`), '', signedHeaders, payload].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', headers['x-amz-date'], scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of [day!, region!, service!, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return { signature: createHmac('sha256', key).update(toSign).digest('hex'), credential: credential! };
}

describe('the REST catalog with AWS SigV4 (Glue, S3 Tables)', () => {
  const proxy = new RecordingProxy();
  let url: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    url = await proxy.listen();
    // The AWS default chain reads these first.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDC360TEST', AWS_SECRET_ACCESS_KEY: 'c360-test-secret-key', AWS_SESSION_TOKEN: '' });
    delete process.env.AWS_SESSION_TOKEN;
  });
  afterAll(async () => {
    await proxy.close();
    process.env = saved;
  });

  it('signs every call, body and query included, for the service and region configured', async () => {
    const catalog = new RestCatalog(loadConfig({ C360_CATALOG_URL: url, C360_CATALOG_SIGV4: 'glue', C360_CATALOG_SIGV4_REGION: 'eu-west-1' }).catalog!);
    const ns = testNamespace();
    await catalog.ensureNamespace(ns);
    expect(await catalog.listTables(ns)).toEqual([]);
    const calls = proxy.seen.splice(0);
    expect(calls.map((c) => `${c.method} ${c.path.split('?')[0]}`)).toEqual(['GET /v1/config', 'POST /v1/namespaces', `GET /v1/namespaces/${ns}/tables`]);
    const host = new URL(url).host;
    for (const c of calls) {
      const { signature, credential } = expectedSignature(c, host, 'c360-test-secret-key');
      expect(credential).toMatch(/^AKIDC360TEST\/\d{8}\/eu-west-1\/glue\/aws4_request$/);
      expect(c.authorization.endsWith(`Signature=${signature}`), `${c.method} ${c.path}`).toBe(true);
      expect(c.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(c.body).digest('hex'));
    }
  });

  it('needs a region, and refuses a token beside it', () => {
    const env = { C360_CATALOG_URL: url, C360_CATALOG_SIGV4: 's3tables' };
    expect(() => loadConfig(env)).toThrow('C360_CATALOG_SIGV4 needs a region: set C360_CATALOG_SIGV4_REGION or AWS_REGION.');
    expect(loadConfig({ ...env, AWS_REGION: 'us-east-2' }).catalog!.sigv4).toEqual({ service: 's3tables', region: 'us-east-2' });
    expect(() => loadConfig({ ...env, AWS_REGION: 'us-east-2', C360_CATALOG_TOKEN: 't' })).toThrow(
      'C360_CATALOG_SIGV4 signs every catalog request: unset C360_CATALOG_TOKEN and C360_CATALOG_CREDENTIAL.',
    );
  });
});
