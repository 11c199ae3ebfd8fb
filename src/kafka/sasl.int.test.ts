// SASL over TLS against the local broker's SASL_SSL listener (dev/stack/kafka.ts, port 9096):
// SCRAM with the user `stack up --secure` creates, and OAUTHBEARER with tokens from an OIDC
// client-credentials grant (test/support/oidc-provider.ts, issuing unsigned JWTs, which the broker
// checks with Kafka's unsecured-JWS validator, as Kafka ships for testing). A login the broker or
// the token endpoint refuses is one sentence naming the settings.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackPaths } from '../../dev/stack/paths.js';
import { KAFKA_SASL_PORT, KAFKA_SCRAM_PASSWORD, KAFKA_SCRAM_USER, LOOPBACK } from '../../dev/stack/versions.js';
import { config, logger } from '../../test/support/kafka.js';
import { type OidcProvider, startOidcProvider } from '../../test/support/oidc-provider.js';
import { testNamespace } from '../../test/support/topology.js';
import { runCli } from '../../test/support/worker.js';
import { loadConfig } from '../config.js';
import { kafkaAnswers } from '../observability/probes.js';
import { createKafka } from './client.js';
import { readToEnd } from './read-to-end.js';

const SASL = `${LOOPBACK}:${KAFKA_SASL_PORT}`;
const tls = { KAFKA_SSL_CA_FILE: path.join(stackPaths(config.home).state, 'tls', 'ca.pem') };
const scram = (mechanism: string, password = KAFKA_SCRAM_PASSWORD) => ({
  KAFKA_BROKERS: SASL,
  ...tls,
  KAFKA_SASL_MECHANISM: mechanism,
  KAFKA_SASL_USERNAME: KAFKA_SCRAM_USER,
  KAFKA_SASL_PASSWORD: password,
});
/** The lines of the command's own sentence (KafkaJS's JSON log lines aside). */
const sentences = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('c360:'));

const CLIENT = { id: 'c360-ingest', secret: 'local-oidc-secret' };
// Issued tokens that expired an hour ago, which the broker refuses.
const EXPIRED = { id: 'expired', secret: 'expired-secret', expired: true };
let idp: OidcProvider;
const oauth = (secret = CLIENT.secret, clientId = CLIENT.id) => ({
  KAFKA_BROKERS: SASL,
  ...tls,
  KAFKA_SASL_MECHANISM: 'oauthbearer',
  KAFKA_SASL_OAUTHBEARER_TOKEN_URL: idp.tokenUrl,
  KAFKA_SASL_OAUTHBEARER_CLIENT_ID: clientId,
  KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: secret,
  KAFKA_SASL_OAUTHBEARER_SCOPE: 'kafka',
});

beforeAll(async () => {
  // Unsigned tokens: the broker checks them with Kafka's unsecured-JWS validator.
  idp = await startOidcProvider([CLIENT, EXPIRED], 'none');
});
afterAll(() => idp.close());

describe('SASL/SCRAM over TLS', () => {
  it.each(['scram-sha-256', 'scram-sha-512'])('%s: the probe and c360 topics create and check get in with the right password', async (mechanism) => {
    expect(await kafkaAnswers(loadConfig(scram(mechanism)).kafka)).toBe(true);
    const ns = testNamespace();
    expect(await runCli(['topics', 'create', '--namespace', ns], scram(mechanism))).toMatchObject({ code: 0 });
    expect(await runCli(['topics', 'check', '--namespace', ns], scram(mechanism))).toMatchObject({ code: 0, stdout: 'every topic matches the topology\n' });
  });

  it('a wrong password is one sentence naming the SASL settings, and no retry loop', async () => {
    expect(await kafkaAnswers(loadConfig(scram('scram-sha-512', 'wrong')).kafka)).toBe(false);
    const t0 = Date.now();
    const refused = await runCli(['topics', 'check', '--namespace', testNamespace()], scram('scram-sha-512', 'wrong'));
    console.log(`SCRAM refusal reported after ${Date.now() - t0} ms`);
    expect(refused.code).toBe(1);
    expect(sentences(refused.stderr)).toEqual([
      'c360: Kafka refused the SASL login (SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512): check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD.',
    ]);
  });
});

describe('SASL/OAUTHBEARER over TLS, tokens from an OIDC client-credentials grant', () => {
  it('gets in with a token from the provider, asked for once per process, and data flows', async () => {
    idp.requests.length = 0;
    const ns = testNamespace();
    expect(await runCli(['topics', 'create', '--namespace', ns], oauth())).toMatchObject({ code: 0 });
    // The CLI process connected an admin client to several brokers' listeners, with one token.
    expect(idp.requests).toHaveLength(1);
    expect(idp.requests[0]!.form.get('grant_type')).toBe('client_credentials');
    expect(idp.requests[0]!.authorization).toMatch(/^Basic /);
    expect(idp.requests[0]!.form.get('scope')).toBe('kafka');

    const kafka = createKafka(loadConfig(oauth()), logger, 'oauth-test');
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: `${ns}.ledger`, acks: -1, messages: [{ key: 'k', value: 'through OAUTHBEARER' }] });
    await producer.disconnect();
    const seen: string[] = [];
    await readToEnd(kafka, `${ns}.ledger`, (m) => seen.push(m.value!.toString()));
    expect(seen).toEqual(['through OAUTHBEARER']);
  });

  it('a secret the provider refuses is one sentence naming the OIDC settings', async () => {
    const refused = await runCli(['topics', 'check', '--namespace', testNamespace()], oauth('wrong'));
    expect(refused.code).toBe(1);
    expect(sentences(refused.stderr)).toEqual([
      'c360: the OIDC token endpoint refused the client credentials (401 invalid_client): check KAFKA_SASL_OAUTHBEARER_CLIENT_ID, KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET and KAFKA_SASL_OAUTHBEARER_SCOPE.',
    ]);
  });

  it('a token the broker refuses (expired) is one sentence naming the OAUTHBEARER settings', async () => {
    const refused = await runCli(['topics', 'check', '--namespace', testNamespace()], oauth(EXPIRED.secret, EXPIRED.id));
    expect(refused.code).toBe(1);
    const [sentence, ...more] = sentences(refused.stderr);
    expect(more).toEqual([]);
    // The broker's error challenge (RFC 7628), answered as the protocol asks; unpatched KafkaJS took it for success and
    // ended, after its retries, with "No brokers in the broker pool".
    expect(sentence).toBe(
      'c360: Kafka refused the SASL login (SASL OAUTHBEARER authentication failed: {"status":"invalid_token"}): check KAFKA_SASL_MECHANISM and the KAFKA_SASL_OAUTHBEARER_* settings (or, for aws-msk-iam, AWS_REGION and the AWS credentials).',
    );
  });
});
