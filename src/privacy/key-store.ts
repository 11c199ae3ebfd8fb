/**
 * The key store: each subject's wrapped data key, which identifiers (pseudonyms of emails, phones,
 * customer and device ids) lead to which subjects, who is suppressed, and the erasure log — in
 * PostgreSQL, one row set per namespace. It holds no personal value: identifiers and subjects are
 * pseudonyms (src/privacy/pseudonyms.ts) and keys are wrapped under the KEK.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../config.js';
import { C360Error, ConfigError, DependencyRefusedError, DependencyUnavailableError, describeError } from '../contracts/errors.js';
import { newDataKey, unwrapKey, wrapKey } from './envelope-keys.js';

const SCHEMA = `
create table if not exists c360_subject_keys (
  namespace text not null, subject text not null, wrapped bytea not null, created_at timestamptz not null default now(),
  unidentified_day date, primary key (namespace, subject));
alter table c360_subject_keys add column if not exists unidentified_day date;
create table if not exists c360_identifiers (
  namespace text not null, identifier text not null, subject text not null,
  primary key (namespace, identifier, subject));
create index if not exists c360_identifiers_by_subject on c360_identifiers (namespace, subject);
create table if not exists c360_suppressed (
  namespace text not null, identifier text not null, request_id uuid not null, suppressed_at timestamptz not null default now(),
  primary key (namespace, identifier));
create table if not exists c360_erasure_log (
  request_id uuid primary key, namespace text not null, requested_at timestamptz not null, completed_at timestamptz not null,
  identifiers_asked integer not null, subjects integer not null, identifiers integer not null, keys_deleted integer not null,
  redis_keys_deleted integer not null, suppressed integer not null);
`;

const TABLES = ['c360_subject_keys', 'c360_identifiers', 'c360_suppressed', 'c360_erasure_log'];

/** What an erasure found and removed; no personal value. */
export interface Erasure {
  requestId: string;
  /** Pseudonyms of the subjects whose keys were deleted. */
  subjects: string[];
  /** Pseudonyms of every identifier that led to them, now suppressed. */
  identifiers: string[];
  keysDeleted: number;
}

export class KeyStore {
  private readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;

  constructor(
    config: Config,
    private readonly namespace: string,
    private readonly kek: Buffer,
  ) {
    // Every wait is bounded: a server that stops answering fails the query (retried by the caller) instead of holding it for ever.
    this.pool = new pg.Pool({ connectionString: config.keyStoreUrl, max: 4, connectionTimeoutMillis: 5_000, query_timeout: 30_000 });
    // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /** Runs a query, its failure classified (keyStoreFailure): never the fault of the record whose keys were asked for. */
  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.ready ??= this.ensureSchema().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    try {
      await this.ready;
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw keyStoreFailure(err);
    }
  }

  /** Creates the tables only when one is missing: a role granted only the use of existing tables (no DDL) works as well. */
  private async ensureSchema(): Promise<void> {
    const { rows } = await this.pool.query<{ missing: boolean }>(
      `select ${TABLES.map((t) => `to_regclass('${t}') is null`).join(' or ')}
         or not exists (select 1 from information_schema.columns where table_name = 'c360_subject_keys' and column_name = 'unidentified_day') as missing`,
    );
    if (rows[0]?.missing) await this.pool.query(SCHEMA);
  }

  /** Throws, classified, when the key store cannot be reached or refuses this process (a probe at start): creates its tables on first use. */
  async check(): Promise<void> {
    await this.query('select 1 from c360_subject_keys limit 0');
  }

  /**
   * The data keys of these subjects, made where missing — except for a suppressed subject (a
   * forgotten person), which gets none: its records must not be stored again.
   */
  async keysFor(asked: string[], unidentifiedDays: ReadonlyMap<string, string> = new Map()): Promise<Map<string, Buffer>> {
    // Once each: a subject twice would get two fresh keys, of which only one is stored.
    const subjects = [...new Set(asked)];
    if (subjects.length === 0) return new Map();
    const fresh = subjects.map(() => newDataKey());
    const { rows } = await this.query<{ subject: string }>(
      `insert into c360_subject_keys (namespace, subject, wrapped, unidentified_day)
       select $1, s, w, d::date from unnest($2::text[], $3::bytea[], $4::text[]) as t(s, w, d)
       where not exists (select 1 from c360_suppressed x where x.namespace = $1 and x.identifier = t.s)
       on conflict do nothing
       returning subject`,
      [this.namespace, subjects, subjects.map((s, i) => wrapKey(this.kek, fresh[i]!, s)), subjects.map((s) => unidentifiedDays.get(s) ?? null)],
    );
    // The keys this call stored are known already; only the others (stored before, or by another worker meanwhile) are read and unwrapped.
    const made = new Set(rows.map((r) => r.subject));
    const keys = await this.existingKeys(subjects.filter((s) => !made.has(s)));
    subjects.forEach((s, i) => {
      if (made.has(s)) keys.set(s, fresh[i]!);
    });
    return keys;
  }

  /**
   * Deletes the keys of dead letters no person could be named for (undecodable records), for the
   * days before `day`: their quarantined bytes become unreadable, whoever they were about.
   */
  async forgetUnidentifiedBefore(day: string): Promise<number> {
    const { rowCount } = await this.query('delete from c360_subject_keys where namespace = $1 and unidentified_day < $2::date', [this.namespace, day]);
    return rowCount ?? 0;
  }

  /** The data keys that exist for these subjects; a forgotten subject has none. */
  async existingKeys(subjects: string[]): Promise<Map<string, Buffer>> {
    if (subjects.length === 0) return new Map();
    const { rows } = await this.query<{ subject: string; wrapped: Buffer }>(
      'select subject, wrapped from c360_subject_keys where namespace = $1 and subject = any($2::text[])',
      [this.namespace, subjects],
    );
    return new Map(rows.map((r) => [r.subject, unwrapKey(this.kek, r.wrapped, r.subject)]));
  }

  /** Records which identifiers lead to which subjects, so an erasure by any of them reaches the subject. */
  async link(pairs: Array<[identifier: string, subject: string]>): Promise<void> {
    if (pairs.length === 0) return;
    await this.query(
      `insert into c360_identifiers (namespace, identifier, subject)
       select $1, i, s from unnest($2::text[], $3::text[]) as t(i, s) on conflict do nothing`,
      [this.namespace, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );
  }

  /** Which of these identifiers belong to a forgotten person. */
  async suppressedAmong(identifiers: string[]): Promise<Set<string>> {
    if (identifiers.length === 0) return new Set();
    const { rows } = await this.query<{ identifier: string }>('select identifier from c360_suppressed where namespace = $1 and identifier = any($2::text[])', [
      this.namespace,
      identifiers,
    ]);
    return new Set(rows.map((r) => r.identifier));
  }

  /** The subjects these identifiers lead to (an identifier that is itself a subject counts), and every identifier of those subjects. */
  async reach(identifiers: string[]): Promise<{ subjects: string[]; identifiers: string[] }> {
    const { rows } = await this.query<{ subject: string }>(
      `select distinct subject from c360_identifiers where namespace = $1 and identifier = any($2::text[])
       union select subject from c360_subject_keys where namespace = $1 and subject = any($2::text[])`,
      [this.namespace, identifiers],
    );
    const subjects = rows.map((r) => r.subject);
    const linked = await this.query<{ identifier: string }>(
      'select distinct identifier from c360_identifiers where namespace = $1 and subject = any($2::text[])',
      [this.namespace, subjects],
    );
    return { subjects, identifiers: [...new Set([...identifiers, ...subjects, ...linked.rows.map((r) => r.identifier)])] };
  }

  /**
   * Forgets the people these identifiers lead to, in one transaction: their subjects' keys and
   * links are deleted, and every identifier that led to them is suppressed, so their records are
   * neither readable nor stored again.
   */
  async forget(identifiers: string[], requestId: string = randomUUID()): Promise<Erasure> {
    const reached = await this.reach(identifiers);
    const client = await this.pool.connect().catch((err: unknown) => {
      throw keyStoreFailure(err);
    });
    try {
      await client.query('begin');
      const deleted = await client.query('delete from c360_subject_keys where namespace = $1 and subject = any($2::text[])', [
        this.namespace,
        reached.subjects,
      ]);
      await client.query('delete from c360_identifiers where namespace = $1 and subject = any($2::text[])', [this.namespace, reached.subjects]);
      await client.query(
        `insert into c360_suppressed (namespace, identifier, request_id) select $1, i, $3 from unnest($2::text[]) as i on conflict do nothing`,
        [this.namespace, reached.identifiers, requestId],
      );
      await client.query('commit');
      return { requestId, subjects: reached.subjects, identifiers: reached.identifiers, keysDeleted: deleted.rowCount ?? 0 };
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw keyStoreFailure(err);
    } finally {
      client.release();
    }
  }

  /** The erasure log: when, and how much, never whose. */
  async logErasure(e: Erasure & { requestedAt: Date; identifiersAsked: number; redisKeysDeleted: number }): Promise<void> {
    await this.query(
      `insert into c360_erasure_log (request_id, namespace, requested_at, completed_at, identifiers_asked, subjects, identifiers, keys_deleted, redis_keys_deleted, suppressed)
       values ($1, $2, $3, now(), $4, $5, $6, $7, $8, $6)`,
      [e.requestId, this.namespace, e.requestedAt, e.identifiersAsked, e.subjects.length, e.identifiers.length, e.keysDeleted, e.redisKeysDeleted],
    );
  }

  async erasureLog(): Promise<Array<Record<string, unknown>>> {
    const { rows } = await this.query('select * from c360_erasure_log where namespace = $1 order by requested_at', [this.namespace]);
    return rows;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * A PostgreSQL failure as the key store's: unreachable, shutting down, out of resources, a
 * conflict or a read-only server mid-failover are unavailable (retried); a login or a privilege it
 * refuses, a missing database, or any other refusal of a query is refused, naming the setting.
 */
export function keyStoreFailure(err: unknown): C360Error {
  if (err instanceof C360Error) return err;
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  const detail = describeError(err).split('\n', 1)[0]!;
  // Node's codes are the connection's; PostgreSQL's SQLSTATEs: 08 connection, 57P shutting down, 53 resources, 58 I/O, 40 conflicts, 25006 read-only.
  const passing = /^E[A-Z]+$/.test(code) || /^(08|57P|53|58|40)/.test(code) || code === '55P03' || code === '25006';
  if (passing || (code === '' && /timeout|terminated|closed|ended|not queryable/i.test(detail)))
    return new DependencyUnavailableError('key-store', `the key store is unreachable: ${detail}`, { cause: err });
  const fix = code.startsWith('28')
    ? 'check the user and password of C360_KEY_STORE_URL'
    : code === '42501'
      ? 'grant the role of C360_KEY_STORE_URL its privileges on the c360_* tables'
      : code === '3D000'
        ? 'check the database of C360_KEY_STORE_URL'
        : 'check C360_KEY_STORE_URL and the key store';
  return new DependencyRefusedError('key-store', `the key store refused (${detail}${code ? `, SQLSTATE ${code}` : ''}): ${fix}.`, { cause: err });
}

/** The namespace's key store, or one sentence naming the missing secret. */
export function openKeyStore(config: Config, namespace: string): KeyStore {
  if (!config.kek)
    throw new ConfigError(`C360_KEK is not set (nor C360_KEK_FILE, nor ${config.home}/secrets/kek.key): personal values are encrypted under keys it wraps.`);
  return new KeyStore(config, namespace, config.kek);
}
