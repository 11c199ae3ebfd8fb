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
  namespace text not null, subject text not null, wrapped bytea, created_at timestamptz not null default now(),
  unidentified_day date, forgotten_at timestamptz, primary key (namespace, subject));
alter table c360_subject_keys add column if not exists unidentified_day date;
alter table c360_subject_keys add column if not exists forgotten_at timestamptz;
alter table c360_subject_keys alter column wrapped drop not null;
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
alter table c360_erasure_log add column if not exists subject_list text[];
alter table c360_erasure_log add column if not exists identifier_list text[];
`;

/** Columns added after the first release: a store without one is brought up to date once. */
const LATER_COLUMNS: Array<[table: string, column: string]> = [
  ['c360_subject_keys', 'unidentified_day'],
  ['c360_subject_keys', 'forgotten_at'],
  ['c360_erasure_log', 'identifier_list'],
];

const TABLES = ['c360_subject_keys', 'c360_identifiers', 'c360_suppressed', 'c360_erasure_log'];

/** What an erasure found and removed; no personal value. */
export interface Erasure extends Reach {
  requestId: string;
  /** How many of the subjects had a key, now a tombstone. */
  keysDeleted: number;
}

/** A record asking for its subject's key: its identifiers (checked against suppression) and those of them not linked to the subject yet. */
export interface Applicant {
  subject: string;
  identifiers: string[];
  unlinked: string[];
}

export interface Admission {
  /** The keys of the admitted records' subjects (none for a forgotten subject). */
  keys: Map<string, Buffer>;
  /** Which of the identifiers asked about are suppressed: a record carrying one is not stored. */
  suppressed: ReadonlySet<string>;
}

/** Whom an erasure reaches: pseudonyms of subjects and of every identifier leading to them. */
export interface Reach {
  subjects: string[];
  identifiers: string[];
}

/** An erasure as logged: enough to apply it again, and no personal value. */
export interface ErasureRecord extends Erasure {
  requestedAt: Date;
  identifiersAsked: number;
  redisKeysDeleted: number;
}

/** How far an erasure follows identifiers that are subjects themselves (customer → anonymous id → device). */
const REACH_ROUNDS = 3;

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
    try {
      await this.schemaReady();
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw keyStoreFailure(err);
    }
  }

  /** Queries in the transaction `client` holds, or on their own when there is none. */
  private on(client: pg.PoolClient | undefined) {
    return <R extends pg.QueryResultRow>(text: string, values: unknown[]) => (client ? client.query<R>(text, values) : this.query<R>(text, values));
  }

  private schemaReady(): Promise<void> {
    this.ready ??= this.ensureSchema().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Creates the tables only when one is missing: a role granted only the use of existing tables (no DDL) works as well. */
  private async ensureSchema(): Promise<void> {
    const { rows } = await this.pool.query<{ missing: boolean }>(
      `select ${TABLES.map((t) => `to_regclass('${t}') is null`).join(' or ')}
         ${LATER_COLUMNS.map(([t, c]) => `or not exists (select 1 from information_schema.columns where table_name = '${t}' and column_name = '${c}')`).join(' ')} as missing`,
    );
    if (rows[0]?.missing) await this.pool.query(SCHEMA);
  }

  /** Throws, classified, when the key store cannot be reached or refuses this process (a probe at start): creates its tables on first use. */
  async check(): Promise<void> {
    await this.query('select 1 from c360_subject_keys limit 0');
  }

  /** The data keys of these subjects, made where missing — except for a forgotten subject, which gets none. */
  async keysFor(subjects: string[], unidentifiedDays: ReadonlyMap<string, string> = new Map()): Promise<Map<string, Buffer>> {
    return (
      await this.admit(
        subjects.map((subject) => ({ subject, identifiers: [], unlinked: [] })),
        unidentifiedDays,
      )
    ).keys;
  }

  /**
   * Admits records to the raw layer, race-free against `forget`: in one transaction that an erasure
   * waits for (and that waits for an erasure), it finds which of their identifiers are suppressed,
   * links the identifiers of the others to their subjects and makes the keys those subjects lack.
   * A record with a suppressed identifier gets no link and no key; a forgotten (tombstoned) subject
   * gets no key either. `alsoCheck` are identifiers of records that need nothing made, checked
   * against the suppressions in the same read. So once `forget` returns, no record of the person is stored readable:
   * either its links existed before the erasure (which then reached its subject) or it sees the
   * suppression.
   */
  async admit(applicants: Applicant[], unidentifiedDays: ReadonlyMap<string, string> = new Map(), alsoCheck: string[] = []): Promise<Admission> {
    if (applicants.length === 0) return { keys: new Map(), suppressed: await this.suppressedAmong(alsoCheck) };
    return this.transaction('shared', async (client) => {
      const asked = [...new Set([...applicants.flatMap((a) => [a.subject, ...a.identifiers]), ...alsoCheck])];
      const found = await client.query<{ identifier: string }>('select identifier from c360_suppressed where namespace = $1 and identifier = any($2::text[])', [
        this.namespace,
        asked,
      ]);
      const suppressed = new Set(found.rows.map((r) => r.identifier));
      const admitted = applicants.filter((a) => !suppressed.has(a.subject) && !a.identifiers.some((id) => suppressed.has(id)));
      // Once each: a subject twice would get two fresh keys, of which only one is stored.
      const subjects = [...new Set(admitted.map((a) => a.subject))];
      const pairs = [...new Set(admitted.flatMap((a) => a.unlinked.map((id) => `${id}\n${a.subject}`)))].map((p) => p.split('\n') as [string, string]);
      const fresh = subjects.map(() => newDataKey());
      const { rows } = await client.query<{ subject: string }>(
        `with linked as (
           insert into c360_identifiers (namespace, identifier, subject)
           select $1, i, s from unnest($5::text[], $6::text[]) as l(i, s) on conflict do nothing)
         insert into c360_subject_keys (namespace, subject, wrapped, unidentified_day)
         select $1, s, w, d::date from unnest($2::text[], $3::bytea[], $4::text[]) as t(s, w, d)
         on conflict do nothing
         returning subject`,
        [
          this.namespace,
          subjects,
          subjects.map((s, i) => wrapKey(this.kek, fresh[i]!, s)),
          subjects.map((s) => unidentifiedDays.get(s) ?? null),
          pairs.map((p) => p[0]),
          pairs.map((p) => p[1]),
        ],
      );
      // The keys this call stored are known already; only the others (stored before, or by another worker meanwhile) are read and unwrapped.
      const made = new Set(rows.map((r) => r.subject));
      const keys = await this.existingKeys(
        subjects.filter((s) => !made.has(s)),
        client,
      );
      subjects.forEach((s, i) => {
        if (made.has(s)) keys.set(s, fresh[i]!);
      });
      return { keys, suppressed };
    });
  }

  /**
   * Runs `fn` in one transaction holding the namespace's erasure lock: shared (admissions run side
   * by side) or exclusive (an erasure runs alone). The lock is taken before any read, so each read
   * sees everything the other side committed.
   */
  private async transaction<T>(lock: 'shared' | 'exclusive', fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient | undefined;
    try {
      await this.schemaReady();
      client = await this.pool.connect();
      await client.query('begin');
      await client.query(`select ${lock === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock'}(hashtext($1))`, [
        `c360 erasures ${this.namespace}`,
      ]);
      const out = await fn(client);
      await client.query('commit');
      return out;
    } catch (err) {
      await client?.query('rollback').catch(() => undefined);
      throw keyStoreFailure(err);
    } finally {
      client?.release();
    }
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
  async existingKeys(subjects: string[], client?: pg.PoolClient): Promise<Map<string, Buffer>> {
    if (subjects.length === 0) return new Map();
    const text = 'select subject, wrapped from c360_subject_keys where namespace = $1 and subject = any($2::text[]) and wrapped is not null';
    const values = [this.namespace, subjects];
    const { rows } = await this.on(client)<{ subject: string; wrapped: Buffer }>(text, values);
    return new Map(rows.map((r) => [r.subject, unwrapKey(this.kek, r.wrapped, r.subject)]));
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

  /**
   * The subjects these identifiers lead to (through links, or being subjects themselves), and
   * every identifier of those subjects. From there it follows only identifiers that are subjects
   * themselves — the anonymous id an `identify` or `alias` tied to the customer, whose own
   * events are keyed by it — for up to REACH_ROUNDS steps, never another subject's links: a
   * device two people share does not make one's erasure the other's. Forgotten subjects are found
   * as well, so an erasure asked again finds what it found the first time.
   */
  async reach(identifiers: string[], client?: pg.PoolClient): Promise<Reach> {
    const run = this.on(client);
    const subjects = new Set<string>();
    const known = new Set(identifiers);
    let found = (
      await run<{ subject: string }>(
        `select distinct subject from c360_identifiers where namespace = $1 and identifier = any($2::text[])
         union select subject from c360_subject_keys where namespace = $1 and subject = any($2::text[])`,
        [this.namespace, identifiers],
      )
    ).rows.map((r) => r.subject);
    for (let round = 0; round < REACH_ROUNDS && found.length > 0; round++) {
      for (const s of found) subjects.add(s);
      const linked = await run<{ identifier: string }>('select distinct identifier from c360_identifiers where namespace = $1 and subject = any($2::text[])', [
        this.namespace,
        found,
      ]);
      const fresh = linked.rows.map((r) => r.identifier).filter((id) => !known.has(id));
      for (const id of fresh) known.add(id);
      found = (
        await run<{ subject: string }>('select subject from c360_subject_keys where namespace = $1 and subject = any($2::text[])', [this.namespace, fresh])
      ).rows
        .map((r) => r.subject)
        .filter((s) => !subjects.has(s));
    }
    return { subjects: [...subjects], identifiers: [...new Set([...known, ...subjects])] };
  }

  /**
   * Forgets the people these identifiers lead to, in one transaction that waits for admissions in
   * flight: their subjects' keys become tombstones (never made again) and every identifier that
   * led to them is suppressed, so their records are neither readable nor stored again. Links stay
   * (pseudonyms only), so asking again finds the same people.
   */
  async forget(identifiers: string[], requestId: string = randomUUID()): Promise<Erasure> {
    return this.transaction('exclusive', async (client) => {
      const reached = await this.reach(identifiers, client);
      const keysDeleted = await this.tombstone(client, reached);
      return { requestId, subjects: reached.subjects, identifiers: reached.identifiers, keysDeleted };
    });
  }

  /** Applies erasures again (after a restore from a backup older than they are); returns how many keys they destroyed again. */
  async replay(erasures: Reach[]): Promise<number> {
    if (erasures.length === 0) return 0;
    return this.transaction('exclusive', async (client) => {
      let destroyed = 0;
      for (const e of erasures) destroyed += await this.tombstone(client, e);
      return destroyed;
    });
  }

  /** Tombstones the subjects' keys and suppresses the identifiers; returns how many keys existed. */
  private async tombstone(client: pg.PoolClient, e: Reach): Promise<number> {
    const { rows } = await client.query<{ destroyed: number }>(
      `with before as (
         select subject from c360_subject_keys where namespace = $1 and subject = any($2::text[]) and wrapped is not null),
       stone as (
         insert into c360_subject_keys (namespace, subject, wrapped, forgotten_at) select $1, s, null, now() from unnest($2::text[]) as s
         on conflict (namespace, subject) do update set wrapped = null, forgotten_at = coalesce(c360_subject_keys.forgotten_at, now()))
       select count(*)::int as destroyed from before`,
      [this.namespace, e.subjects],
    );
    await client.query(`insert into c360_suppressed (namespace, identifier, request_id) select $1, i, $3 from unnest($2::text[]) as i on conflict do nothing`, [
      this.namespace,
      e.identifiers,
      randomUUID(),
    ]);
    return rows[0]!.destroyed;
  }

  /** The erasure log: when, how much, and the pseudonyms to erase again after a restore; never a plain identifier. */
  async logErasure(e: ErasureRecord): Promise<void> {
    await this.query(
      `insert into c360_erasure_log (request_id, namespace, requested_at, completed_at, identifiers_asked, subjects, identifiers, keys_deleted, redis_keys_deleted, suppressed, subject_list, identifier_list)
       values ($1, $2, $3, now(), $4, $5, $6, $7, $8, $6, $9, $10) on conflict do nothing`,
      [
        e.requestId,
        this.namespace,
        e.requestedAt,
        e.identifiersAsked,
        e.subjects.length,
        e.identifiers.length,
        e.keysDeleted,
        e.redisKeysDeleted,
        e.subjects,
        e.identifiers,
      ],
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
