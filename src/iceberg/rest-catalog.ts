/**
 * A client of the Iceberg REST catalog protocol (the OpenAPI spec in apache/iceberg's open-api):
 * the few calls a writer needs — the catalog's config, namespaces, loading, creating and committing
 * tables. Any REST catalog serves it (Iceberg's reference server, Polaris, Nessie, Glue's and
 * S3 Tables' REST endpoints). It authenticates with a fixed token, with OAuth2 client credentials
 * (auth/oauth2.ts: the secret goes to the token endpoint, the token it gives to the catalog's origin,
 * and nowhere else; a 401 renews the token once), or with AWS SigV4 (auth/aws-sigv4.ts) for Glue and
 * S3 Tables.
 *
 * A commit sends requirements with its updates; the catalog applies them atomically or answers 409
 * (the table moved on: reload and try again, as Iceberg's own clients do). A 5xx answer to a commit
 * leaves its outcome unknown; the caller reloads the table and looks for its own snapshot.
 */

import { sigV4Signer } from '../auth/aws-sigv4.js';
import { type BearerToken, type ClientCredentials, cachedTokens, clientCredentialsToken, TokenEndpointError } from '../auth/oauth2.js';
import type { CatalogSettings } from '../config.js';
import { C360Error, DependencyRefusedError, DependencyUnavailableError, describeError, httpError } from '../contracts/errors.js';
import { parseLongJson, stringifyLongJson } from '../contracts/long-json.js';
import type { TableMetadata, TableRequirement, TableUpdate } from './table-metadata.js';

/** The catalog's answer when a table changed under a commit's requirements. */
export class CommitConflictError extends Error {
  constructor(table: string, detail: string) {
    super(`the catalog refused a commit to ${table} because the table changed (${detail})`);
  }
}

export interface LoadedTable {
  metadataLocation: string;
  metadata: TableMetadata;
}

export class RestCatalog {
  private prefix: string | undefined;
  private readonly bearer: (() => Promise<{ value: string }>) & { invalidate?(): void };
  private readonly sign: ReturnType<typeof sigV4Signer> | undefined;

  constructor(private readonly settings: CatalogSettings) {
    const { oauth2, token, sigv4 } = settings;
    this.bearer = oauth2 ? cachedTokens(() => catalogToken(oauth2)) : async () => ({ value: token ?? '' });
    this.sign = sigv4 ? sigV4Signer(sigv4) : undefined;
  }

  get url(): string {
    return this.settings.url;
  }

  /** The catalog's own settings, asked once: its `prefix` goes into every path after /v1. */
  private async base(): Promise<string> {
    if (this.prefix === undefined) {
      const query = this.settings.warehouse ? `?warehouse=${encodeURIComponent(this.settings.warehouse)}` : '';
      const config = (await this.call('GET', `/v1/config${query}`, undefined, 'reading the catalog config')) as {
        defaults?: Record<string, string>;
        overrides?: Record<string, string>;
      };
      const prefix = config.overrides?.prefix ?? config.defaults?.prefix;
      this.prefix = prefix ? `/v1/${encodeURIComponent(prefix)}` : '/v1';
    }
    return this.prefix;
  }

  /** Creates the namespace unless it exists. */
  async ensureNamespace(namespace: string): Promise<void> {
    const base = await this.base();
    await this.call('POST', `${base}/namespaces`, { namespace: [namespace], properties: {} }, `creating namespace ${namespace}`, [409]);
  }

  /** The table, or undefined when the catalog has none of that name. */
  async loadTable(namespace: string, table: string): Promise<LoadedTable | undefined> {
    const base = await this.base();
    const answer = await this.call(
      'GET',
      `${base}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}`,
      undefined,
      `loading ${namespace}.${table}`,
      [404],
    );
    return answer === undefined ? undefined : loaded(answer);
  }

  /** Creates a table; a table created by another worker meanwhile is loaded instead. */
  async createTable(namespace: string, table: string, request: Record<string, unknown>): Promise<LoadedTable> {
    const base = await this.base();
    const answer = await this.call(
      'POST',
      `${base}/namespaces/${encodeURIComponent(namespace)}/tables`,
      { name: table, ...request },
      `creating ${namespace}.${table}`,
      [409],
    );
    if (answer !== undefined) return loaded(answer);
    const existing = await this.loadTable(namespace, table);
    if (!existing) throw new DependencyUnavailableError('catalog', `${namespace}.${table} was reported to exist but cannot be loaded`);
    return existing;
  }

  /** Applies updates if every requirement holds; throws CommitConflictError when one does not. */
  async commit(namespace: string, table: string, requirements: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable> {
    const base = await this.base();
    const what = `committing to ${namespace}.${table}`;
    const answer = await this.call(
      'POST',
      `${base}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}`,
      { identifier: { namespace: [namespace], name: table }, requirements, updates },
      what,
      [409],
    );
    if (answer === undefined) throw new CommitConflictError(`${namespace}.${table}`, 'a requirement no longer holds');
    return loaded(answer);
  }

  /** The tables of a namespace. */
  async listTables(namespace: string): Promise<string[]> {
    const base = await this.base();
    const names: string[] = [];
    let token: string | undefined;
    do {
      const query = token ? `?pageToken=${encodeURIComponent(token)}` : '';
      const page = (await this.call('GET', `${base}/namespaces/${encodeURIComponent(namespace)}/tables${query}`, undefined, `listing ${namespace}`, [404])) as
        | { identifiers?: Array<{ name: string }>; 'next-page-token'?: string | null }
        | undefined;
      for (const id of page?.identifiers ?? []) names.push(id.name);
      token = page?.['next-page-token'] ?? undefined;
    } while (token);
    return names.sort();
  }

  /**
   * One call. `tolerated` statuses come back as undefined (404: no such table, 409: exists or
   * conflict); other failures are classified: unreachable and 5xx retried, other 4xx refused.
   */
  private async call(method: string, path: string, body: unknown, what: string, tolerated: number[] = []): Promise<unknown> {
    let answer = await this.send(method, path, body, what);
    if (answer.status === 401 && this.bearer.invalidate) {
      // A token that expired early or was revoked: one more try with a new one.
      await answer.body?.cancel();
      this.bearer.invalidate();
      answer = await this.send(method, path, body, what);
    }
    if (tolerated.includes(answer.status)) {
      await answer.body?.cancel();
      return undefined;
    }
    const text = await answer.text().catch(() => '');
    if (!answer.ok) {
      const detail = errorDetail(text);
      throw httpError('catalog', `${what} (${this.settings.url})`, answer.status, {
        ...(detail ? { detail } : {}),
        retryAfter: answer.headers.get('retry-after'),
      });
    }
    try {
      return text ? parseLongJson(text) : {};
    } catch (err) {
      throw new DependencyUnavailableError('catalog', `${what}: the catalog answered something that is not JSON`, { cause: err });
    }
  }

  private async withBearer(headers: Record<string, string>): Promise<Record<string, string>> {
    const { value: token } = await this.bearer();
    return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
  }

  private async send(method: string, path: string, body: unknown, what: string): Promise<Response> {
    const url = `${this.settings.url}${path}`;
    const text = body !== undefined ? stringifyLongJson(body) : undefined;
    const plain: Record<string, string> = { accept: 'application/json', ...(text !== undefined ? { 'content-type': 'application/json' } : {}) };
    let headers: Record<string, string>;
    try {
      headers = this.sign ? await this.sign({ method, url, headers: plain, ...(text !== undefined ? { body: text } : {}) }) : await this.withBearer(plain);
    } catch (err) {
      if (err instanceof C360Error) throw err;
      // The AWS credential chain found nothing, or its source (web identity, the instance's role) failed.
      throw new DependencyUnavailableError('catalog', `signing ${what} for ${this.settings.url} failed: ${describeError(err)}`, { cause: err });
    }
    try {
      return await fetch(url, {
        method,
        headers,
        ...(text !== undefined ? { body: text } : {}),
        // A redirect would carry the token to wherever it points: the catalog is asked at its own address only.
        redirect: 'error',
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (err) {
      throw new DependencyUnavailableError('catalog', `${what} at ${this.settings.url} failed: ${describeError(err)}`, { cause: err });
    }
  }
}

/** A token for the catalog; a refusal is final (the credential is wrong), an endpoint that fails is an outage. */
async function catalogToken(credentials: ClientCredentials): Promise<BearerToken> {
  try {
    return await clientCredentialsToken(credentials);
  } catch (err) {
    if (!(err instanceof TokenEndpointError)) throw err;
    if (err.refused) throw new DependencyRefusedError('catalog', `${err.message}; not retried: check C360_CATALOG_CREDENTIAL and C360_CATALOG_SCOPE`);
    throw new DependencyUnavailableError('catalog', err.message, { cause: err });
  }
}

function loaded(answer: unknown): LoadedTable {
  const a = answer as { 'metadata-location': string; metadata: TableMetadata };
  return { metadataLocation: a['metadata-location'], metadata: a.metadata };
}

/** The catalog's error model: `{"error": {"message", "type", "code"}}`. */
function errorDetail(text: string): string | undefined {
  try {
    const e = (JSON.parse(text) as { error?: { type?: string; message?: string } }).error;
    return e ? `${e.type ?? 'error'}: ${(e.message ?? '').slice(0, 300)}` : undefined;
  } catch {
    return undefined;
  }
}
