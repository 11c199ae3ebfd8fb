/**
 * A private PostgreSQL cluster for tests that break the key store for real: password logins
 * (scram-sha-256, unlike the machine's trust-everything server), a role whose privileges or
 * password a test changes, and a server it can stop and start, without touching what other tests
 * use. Made with the machine's initdb and pg_ctl, as the postgres user (they refuse root).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface PrivatePostgres {
  port: number;
  /** The superuser's URL. */
  adminUrl: string;
  /** A URL for `role` with `password`. */
  urlOf(role: string, password: string): string;
  sql(text: string): Promise<void>;
  /** A backup of the database as `pg_dump` makes one (custom format). */
  backup(): Buffer;
  /** Restores a backup over the database, as an operator recovering it would (`pg_restore --clean`). */
  restore(backup: Buffer): void;
  stop(): void;
  start(): void;
  destroy(): void;
}

function bin(name: string): string {
  const root = '/usr/lib/postgresql';
  const version = fs.existsSync(root) ? fs.readdirSync(root).sort().at(-1) : undefined;
  if (!version) throw new Error('PostgreSQL server binaries are not installed (/usr/lib/postgresql/<version>/bin): the key-store fault tests need initdb');
  return path.join(root, version, 'bin', name);
}

const asPostgres = (file: string, args: string[]) =>
  execFileSync(process.getuid?.() === 0 ? 'runuser' : file, process.getuid?.() === 0 ? ['-u', 'postgres', '--', file, ...args] : args, { stdio: 'pipe' });

export function startPrivatePostgres(): PrivatePostgres {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-pg-'));
  fs.chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  fs.writeFileSync(pwfile, 'admin-secret\n', { mode: 0o644 });
  const port = 25_432 + Math.floor(Math.random() * 2_000);
  asPostgres(bin('initdb'), ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--no-sync']);
  const start = () =>
    asPostgres(bin('pg_ctl'), [
      '-D',
      data,
      '-w',
      '-t',
      '30',
      '-l',
      path.join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
  start();
  const adminUrl = `postgres://postgres:admin-secret@127.0.0.1:${port}/postgres`;
  return {
    port,
    adminUrl,
    urlOf: (role, password) => `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    async sql(text) {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(text);
      } finally {
        await client.end();
      }
    },
    backup: () => execFileSync(bin('pg_dump'), ['--format=custom', '--dbname', adminUrl], { maxBuffer: 1 << 28 }),
    restore(backup) {
      const file = path.join(dir, 'restore.dump');
      fs.writeFileSync(file, backup);
      execFileSync(bin('pg_restore'), ['--clean', '--if-exists', '--single-transaction', '--dbname', adminUrl, file], { stdio: 'pipe' });
    },
    stop: () => asPostgres(bin('pg_ctl'), ['-D', data, '-w', '-m', 'fast', 'stop']),
    start,
    destroy() {
      try {
        asPostgres(bin('pg_ctl'), ['-D', data, '-w', '-m', 'immediate', 'stop']);
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
