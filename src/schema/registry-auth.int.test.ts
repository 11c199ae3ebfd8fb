// A schema registry that requires authentication: Apicurio (the stack's own jar, a second instance
// on a free port) with OIDC, taking HTTP basic credentials that it exchanges at the provider's token
// endpoint for a signed token (apicurio.authn.basic-client-credentials), as a registry behind
// Keycloak or Entra ID does. Every registry client of c360 — schema registration and the
// compatibility check, the workers' writer-schema reads, the readiness probe — sends
// SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD; a registry that refuses them is one sentence.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackPaths } from '../../dev/stack/paths.js';
import { apicurioArgs, apicurioJar } from '../../dev/stack/registry.js';
import { LOOPBACK } from '../../dev/stack/versions.js';
import { config, eventually } from '../../test/support/kafka.js';
import { type OidcProvider, startOidcProvider } from '../../test/support/oidc-provider.js';
import { testNamespace } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import { registryAnswers } from '../observability/probes.js';

const CLIENT = { id: 'c360-registry', secret: 'registry-secret' };
let idp: OidcProvider;
let registry: ChildProcess;
let url = '';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const credentials = (password = CLIENT.secret) => ({ SCHEMA_REGISTRY_URL: url, SCHEMA_REGISTRY_USERNAME: CLIENT.id, SCHEMA_REGISTRY_PASSWORD: password });
const sentences = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('c360:'));

beforeAll(async () => {
  idp = await startOidcProvider([CLIENT], 'RS256');
  const port = await freePort();
  url = `http://${LOOPBACK}:${port}/apis/ccompat/v7`;
  registry = spawn(
    'java',
    apicurioArgs(apicurioJar(stackPaths(config.home)), port, {
      'quarkus.oidc.tenant-enabled': 'true',
      'quarkus.oidc.auth-server-url': idp.issuer,
      'quarkus.oidc.token-path': idp.tokenUrl,
      'quarkus.oidc.client-id': 'registry-api',
      'apicurio.authn.basic-client-credentials.enabled': 'true',
    }),
    { stdio: 'ignore' },
  );
  // Ready once it answers at all (401: it requires credentials).
  const status = await eventually(
    () =>
      fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.status,
        () => 0,
      ),
    (s) => s === 401 || registry.exitCode !== null,
    120_000,
  );
  if (status !== 401) throw new Error(`the authenticated registry did not start at ${url} (last status ${status})`);
}, 150_000);

afterAll(async () => {
  registry?.kill('SIGKILL');
  await idp?.close();
});

describe('a schema registry that requires authentication', () => {
  it('with the credentials: schemas register sets BACKWARD and registers, schemas check passes, the readiness probe answers', async () => {
    const ns = testNamespace();
    const registered = await runCli(['schemas', 'register', '--namespace', ns], credentials());
    expect(registered.code, registered.output).toBe(0);
    expect(registered.stdout).toContain('registered at BACKWARD compatibility');
    const checked = await runCli(['schemas', 'check', '--namespace', ns], credentials());
    expect(checked.code, checked.output).toBe(0);
    expect(checked.stdout).toContain(`${ns}.dead-letter-value: compatible`);
    expect(await registryAnswers({ url, auth: { username: CLIENT.id, password: CLIENT.secret } })).toBe(true);
    // The registry exchanged the credentials at the provider, as client credentials.
    expect(idp.requests.some((r) => r.form.get('grant_type') === 'client_credentials' && r.form.get('client_id') === CLIENT.id)).toBe(true);
  });

  it('without credentials, or with a wrong password: exit 1 and one sentence naming the settings; the probe says not ready', async () => {
    for (const env of [{ SCHEMA_REGISTRY_URL: url }, credentials('wrong')]) {
      const refused = await runCli(['schemas', 'check', '--namespace', testNamespace()], env);
      expect(refused.code).toBe(1);
      const [sentence, ...more] = sentences(refused.stderr);
      expect(more).toEqual([]);
      expect(sentence).toMatch(
        /^c360: schema registry \(latest version of t[0-9a-f]+\.[a-z.-]+-value\) answered 401; not retried: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD$/,
      );
    }
    expect(await registryAnswers({ url })).toBe(false);
    expect(await registryAnswers({ url, auth: { username: CLIENT.id, password: 'wrong' } })).toBe(false);
  });
});
