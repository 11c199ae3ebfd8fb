/**
 * Bearer tokens from an OAuth2 client-credentials grant (RFC 6749 §4.4), for every client that
 * logs in through one: Kafka's OAUTHBEARER (kafka/sasl.ts) and an Iceberg REST catalog such as
 * Polaris (iceberg/rest-catalog.ts). The client secret goes to the token endpoint only; each caller
 * sends the token to its own service only. Tokens are cached until shortly before they expire.
 */

export interface BearerToken {
  value: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface ClientCredentials {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string | undefined;
  /**
   * How the client proves itself: HTTP Basic, as RFC 6749 asks every server to accept and Kafka's own
   * client does; or in the form, as Iceberg's REST clients send it to a catalog.
   */
  clientAuth: 'basic' | 'form';
}

/** Why no token came: `refused` (4xx: these credentials will not work, retrying cannot help) or not (the endpoint failed or was unreachable). */
export class TokenEndpointError extends Error {
  constructor(
    message: string,
    readonly refused: boolean,
  ) {
    super(message);
  }
}

/** A token is renewed when less than this much of its life is left, or a minute, whichever is more. */
const RENEW_FRACTION = 0.2;
/** A token whose answer names no lifetime is renewed after this long. */
const DEFAULT_LIFE_SECONDS = 300;

/**
 * Caches what `fetchToken` gives until it nears its expiry; concurrent callers share one request.
 * `invalidate` drops the cached token (a service answered 401: it expired early or was revoked).
 */
export function cachedTokens(
  fetchToken: () => Promise<BearerToken>,
  now: () => number = Date.now,
): (() => Promise<{ value: string }>) & { invalidate(): void } {
  let current: { token: BearerToken; renewAt: number } | undefined;
  let pending: Promise<BearerToken> | undefined;
  const get = async () => {
    if (current && now() < current.renewAt) return { value: current.token.value };
    pending ??= fetchToken().finally(() => (pending = undefined));
    const token = await pending;
    const life = token.expiresAt - now();
    current = { token, renewAt: token.expiresAt - Math.max(60_000, life * RENEW_FRACTION) };
    return { value: token.value };
  };
  return Object.assign(get, {
    invalidate: () => {
      current = undefined;
    },
  });
}

/** One client-credentials grant. */
export async function clientCredentialsToken(o: ClientCredentials): Promise<BearerToken> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', ...(o.scope ? { scope: o.scope } : {}) });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (o.clientAuth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', o.clientId);
    form.set('client_secret', o.clientSecret);
  }
  let answer: Response;
  try {
    // No redirect is followed: it would carry the secret wherever it points.
    answer = await fetch(o.tokenUrl, { method: 'POST', headers, body: form, redirect: 'error', signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new TokenEndpointError(`the token endpoint ${o.tokenUrl} did not answer (${(err as Error).message})`, false);
  }
  const body = (await answer.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
  if (answer.status >= 400 && answer.status < 500) {
    throw new TokenEndpointError(
      `the token endpoint ${o.tokenUrl} refused the client credentials (${answer.status}${typeof body.error === 'string' ? ` ${body.error}` : ''})`,
      true,
    );
  }
  if (!answer.ok || typeof body.access_token !== 'string') {
    throw new TokenEndpointError(`the token endpoint ${o.tokenUrl} answered ${answer.status} without an access token`, false);
  }
  const lifeSeconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_LIFE_SECONDS;
  return { value: body.access_token, expiresAt: Date.now() + lifeSeconds * 1000 };
}
