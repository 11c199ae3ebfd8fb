/**
 * SASL for every Kafka client, from configuration: PLAIN and SCRAM with a user and password;
 * OAUTHBEARER with tokens from an OIDC provider's client-credentials grant; AWS MSK IAM with
 * tokens from AWS's own signer (aws-msk-iam-sasl-signer-js) over the AWS default credential chain.
 * Tokens are cached until shortly before they expire, since KafkaJS asks on every connection.
 */

import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import kafkajs, { type SASLOptions } from 'kafkajs';
import type { SaslConfig } from '../config.js';

// KafkaJS is CommonJS: its error classes are on the default export.
const { KafkaJSError } = kafkajs;
// Its typings declare no constructor arguments; at run time it takes the message as every KafkaJS error does.
const KafkaJSSASLAuthenticationError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

interface BearerToken {
  value: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** A token is renewed when less than this much of its life is left, or a minute, whichever is more. */
const RENEW_FRACTION = 0.2;

/** Caches what `fetchToken` gives until it nears its expiry; concurrent callers share one request. */
export function cachedTokens(fetchToken: () => Promise<BearerToken>, now: () => number = Date.now): () => Promise<{ value: string }> {
  let current: { token: BearerToken; renewAt: number } | undefined;
  let pending: Promise<BearerToken> | undefined;
  return async () => {
    if (current && now() < current.renewAt) return { value: current.token.value };
    pending ??= fetchToken().finally(() => (pending = undefined));
    const token = await pending;
    const life = token.expiresAt - now();
    current = { token, renewAt: token.expiresAt - Math.max(60_000, life * RENEW_FRACTION) };
    return { value: token.value };
  };
}

/** One OIDC client-credentials grant (RFC 6749 §4.4), the client authenticated with HTTP Basic as Kafka's own client does. */
async function clientCredentialsToken(o: { tokenUrl: string; clientId: string; clientSecret: string; scope?: string }): Promise<BearerToken> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', ...(o.scope ? { scope: o.scope } : {}) });
  const basic = Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret)}`).toString('base64');
  let answer: Response;
  try {
    answer = await fetch(o.tokenUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new KafkaJSError(`the OIDC token endpoint KAFKA_SASL_OAUTHBEARER_TOKEN_URL=${o.tokenUrl} did not answer (${(err as Error).message})`, {
      retriable: true,
    });
  }
  const body = (await answer.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
  if (answer.status >= 400 && answer.status < 500) {
    // A refusal is final: retrying the same credentials cannot help, so the process says which settings to check.
    throw new KafkaJSSASLAuthenticationError(
      `the OIDC token endpoint refused the client credentials (${answer.status}${typeof body.error === 'string' ? ` ${body.error}` : ''}): check KAFKA_SASL_OAUTHBEARER_CLIENT_ID, KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET and KAFKA_SASL_OAUTHBEARER_SCOPE`,
    );
  }
  if (!answer.ok || typeof body.access_token !== 'string') {
    throw new KafkaJSError(`the OIDC token endpoint answered ${answer.status} without an access token`, { retriable: answer.status >= 500 });
  }
  const lifeSeconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 300;
  return { value: body.access_token, expiresAt: Date.now() + lifeSeconds * 1000 };
}

/** An MSK IAM token: a SigV4-presigned kafka-cluster:Connect URL, signed with the AWS default credential chain. */
export async function mskIamToken(region: string): Promise<BearerToken> {
  const { token, expiryTime } = await generateAuthToken({ region });
  return { value: token, expiresAt: expiryTime };
}

export function saslOptions(sasl: SaslConfig): SASLOptions {
  switch (sasl.mechanism) {
    case 'oauthbearer':
      return { mechanism: 'oauthbearer', oauthBearerProvider: cachedTokens(() => clientCredentialsToken(sasl)) };
    case 'aws-msk-iam':
      // MSK IAM is OAUTHBEARER on the wire, with the signer's token as the bearer token.
      return { mechanism: 'oauthbearer', oauthBearerProvider: cachedTokens(() => mskIamToken(sasl.region)) };
    default:
      return sasl;
  }
}
