// Hostile arguments to the CLI tools, each in a real `c360` process: a missing, wrong-kind or
// unreadable path, an impossible date, a bad number, an unknown namespace or source. Each class
// asserts its exit code and its one sentence (no stack trace); its canary is the same command with
// valid arguments, which must succeed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNamespace } from '../support/topology.js';
import { runCli } from '../support/worker.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-hostile-cli-'));
const layer = path.join(dir, 'layer');
const file = path.join(dir, 'orders.csv');
const headerless = path.join(dir, 'headerless.csv');
const namespace = testNamespace();
/** A namespace with its topics and nothing in them, where `c360 ledger` has nothing to report and exits 0. */
const quiet = testNamespace();
const secret = 'Ann.Secret@example.com';

interface CliClass {
  name: string;
  args: () => string[];
  exit: number;
  /** The whole of stderr's first line. */
  says: RegExp;
  canary: () => string[];
}

const HEADER = 'transaction_id,customer_id,email,channel,occurred_at,currency,total_amount,line_items,status\n';
const ROW = (id: string, email = 'ann@example.com') =>
  `${id},C-1,${email},ECOMMERCE,2026-11-21T12:00:00Z,EUR,19.90,"[{""sku"":""S"",""quantity"":1,""unit_price"":""19.90""}]",COMPLETED\n`;
const invalid = (flag: string, value: string, why: string) =>
  new RegExp(`^error: option '${flag}' argument '${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is invalid\\. ${why}$`);
const quarantineLs = () => ['quarantine', 'ls', '--storage', layer];
const ns = (...args: string[]) => [...args, '--namespace', namespace];

const classes: CliClass[] = [
  {
    name: '--storage naming nothing',
    args: () => ['quarantine', 'ls', '--storage', '/nonexistent/layer'],
    exit: 1,
    says: invalid('--storage <url>', '/nonexistent/layer', 'No folder /nonexistent/layer exists\\.'),
    canary: quarantineLs,
  },
  {
    name: '--storage naming a file',
    args: () => ['quarantine', 'ls', '--storage', file],
    exit: 1,
    says: invalid('--storage <url>', file, `${file.replace(/[.]/g, '\\.')} is not a folder\\.`),
    canary: quarantineLs,
  },
  {
    name: 'raw verify on a folder that does not exist',
    args: () => ['raw', 'verify', '--storage', '/nonexistent/layer'],
    exit: 1,
    says: /No folder \/nonexistent\/layer exists\.$/,
    canary: () => ['raw', 'verify', '--storage', layer],
  },
  {
    name: 'an impossible --date (30 February)',
    args: () => ['quarantine', 'ls', '--storage', layer, '--date', '2024-02-30'],
    exit: 1,
    says: invalid('--date <YYYY-MM-DD>', '2024-02-30', 'Must be a date in YYYY-MM-DD form\\.'),
    canary: () => ['quarantine', 'ls', '--storage', layer, '--date', '2024-02-29'],
  },
  {
    name: 'a --date of month 13',
    args: () => ['raw', 'verify', '--storage', layer, '--date', '2024-13-01'],
    exit: 1,
    says: /Must be a date in YYYY-MM-DD form\.$/,
    canary: () => ['raw', 'verify', '--storage', layer, '--date', '2024-12-01'],
  },
  {
    name: 'a --date in another form',
    args: () => ['quarantine', 'ls', '--storage', layer, '--date', '01/02/2024'],
    exit: 1,
    says: /Must be a date in YYYY-MM-DD form\.$/,
    canary: quarantineLs,
  },
  {
    name: 'a negative --limit',
    args: () => [...ns('quarantine', 'show', '--storage', layer), '--limit', '-1'],
    exit: 1,
    says: invalid('--limit <n>', '-1', 'Must be 1 or more\\.'),
    canary: () => [...ns('quarantine', 'show', '--storage', layer), '--limit', '1'],
  },
  {
    name: 'a --limit that is not a number',
    args: () => [...ns('quarantine', 'show', '--storage', layer), '--limit', 'ten'],
    exit: 1,
    says: invalid('--limit <n>', 'ten', 'Must be a whole number\\.'),
    canary: () => ns('quarantine', 'show', '--storage', layer),
  },
  {
    name: 'a --limit with an exponent',
    args: () => [...ns('quarantine', 'show', '--storage', layer), '--limit', '1e3'],
    exit: 1,
    says: /Must be a whole number\.$/,
    canary: () => ns('quarantine', 'show', '--storage', layer),
  },
  {
    name: '--batch-rows 0',
    args: () => [...ns('ingest', file, '-s', 'commerce'), '--batch-rows', '0'],
    exit: 1,
    says: invalid('--batch-rows <n>', '0', 'Must be 1 or more\\.'),
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '--batch-rows', '1'],
  },
  {
    name: 'a file to ingest that does not exist',
    args: () => ns('ingest', '/nonexistent/orders.csv', '-s', 'commerce'),
    exit: 1,
    says: /No file or folder \/nonexistent\/orders\.csv exists\.$/,
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '--force'],
  },
  {
    name: 'a mapping file that does not exist',
    args: () => [...ns('ingest', file, '-s', 'commerce'), '--mapping', '/nonexistent.json'],
    exit: 1,
    says: /No file \/nonexistent\.json exists\.$/,
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '--force'],
  },
  {
    name: 'a mapping "file" that is a folder',
    args: () => [...ns('ingest', file, '-s', 'commerce'), '--mapping', dir],
    exit: 1,
    says: /is not a file\.$/,
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '--force'],
  },
  {
    name: 'an empty --delimiter',
    args: () => [...ns('ingest', file, '-s', 'commerce'), '--delimiter', ''],
    exit: 1,
    says: /Must be one to four characters\.$/,
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '--delimiter', ',', '--force'],
  },
  {
    name: 'an unknown --format',
    args: () => [...ns('ingest', file, '-s', 'commerce'), '--format', 'xml'],
    exit: 2,
    says: /^c360: --format "xml" is not a known format \(known: csv, tsv, ndjson, parquet\)\.$/,
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '--format', 'csv', '--force'],
  },
  {
    name: 'an unknown --source',
    args: () => ns('ingest', file, '-s', 'nosuch'),
    exit: 2,
    says: /^c360: --source nosuch is not a source of topology customer360 /,
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '--force'],
  },
  {
    name: 'an unknown --entity',
    args: () => [...ns('ingest', file, '-s', 'commerce'), '-e', 'Nope'],
    exit: 2,
    says: /^c360: --entity Nope: source commerce carries Transaction, Product\.$/,
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '-e', 'Transaction', '--force'],
  },
  {
    name: 'a topology file that does not exist',
    args: () => ['ledger', '-t', '/nonexistent.json'],
    exit: 2,
    says: /^c360: topology "\/nonexistent\.json" was not found/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'c360 ledger for a namespace where nothing ran',
    args: () => ['ledger', '--namespace', 'nothingranhere'],
    exit: 2,
    says: /^c360: namespace nothingranhere has no ledger topic nothingranhere\.ledger: nothing has run under it\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a --session-timeout that is not a number',
    args: () => ['run', '--session-timeout', 'soon'],
    exit: 1,
    says: /Must be a whole number\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'an --ops-port beyond 65535',
    args: () => ['run', '--ops-port', '70000'],
    exit: 1,
    says: /Must be 65535 or less\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a collector settings file that does not exist',
    args: () => ['collect', '--config', '/nonexistent.json'],
    exit: 1,
    says: /No file \/nonexistent\.json exists\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a landing zone that does not exist',
    args: () => ['watch', '/nonexistent/zone', '--once'],
    exit: 1,
    says: /No folder \/nonexistent\/zone exists\.$/,
    canary: () => [...ns('watch', dir, '--once')],
  },
  {
    name: 'privacy forget naming no one',
    args: () => ns('privacy', 'forget'),
    exit: 2,
    says: /^c360: name the person: at least one of /,
    canary: () => [...ns('privacy', 'forget'), '--customer-id', 'C-nobody'],
  },
  {
    name: 'privacy forget with an --id that is not kind=value',
    args: () => [...ns('privacy', 'forget'), '--id', 'E-17'],
    exit: 1,
    says: /Must be <kind>=<value>, e\.g\. record_id=E-17\.$/,
    canary: () => [...ns('privacy', 'forget'), '--id', 'record_id=E-17'],
  },
  { name: 'an unknown command', args: () => ['teleport'], exit: 1, says: /^error: unknown command 'teleport'$/, canary: () => ['--version'] },
  {
    name: 'an unknown option',
    args: () => ['quarantine', 'ls', '--everything'],
    exit: 1,
    says: /^error: unknown option '--everything'$/,
    canary: quarantineLs,
  },
];

describe('hostile arguments to the CLI', () => {
  beforeAll(async () => {
    fs.mkdirSync(layer);
    fs.writeFileSync(file, HEADER + ROW('T-cli-1'));
    fs.writeFileSync(headerless, ROW('T-cli-2', secret) + ROW('T-cli-3', secret));
    for (const n of [namespace, quiet]) {
      const created = await runCli(['topics', 'create', '--namespace', n]);
      expect(created.code, created.stderr).toBe(0);
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`refuses ${classes.length} classes each with its exit code and one sentence, and runs each canary`, async () => {
    const outcomes: Array<[string, number | null, string]> = [];
    for (let i = 0; i < classes.length; i += 6) {
      const slice = classes.slice(i, i + 6);
      const results = await Promise.all(slice.map((c) => runCli(c.args())));
      for (const [j, r] of results.entries()) {
        const first = r.stderr.split('\n')[0]!;
        outcomes.push([slice[j]!.name, r.code, slice[j]!.says.test(first) ? 'says it' : first]);
        expect(r.stderr, slice[j]!.name).not.toMatch(/\n\s+at .*:\d+:\d+/);
      }
    }
    expect(outcomes).toEqual(classes.map((c) => [c.name, c.exit, 'says it']));

    for (let i = 0; i < classes.length; i += 6) {
      const slice = classes.slice(i, i + 6);
      // Canaries that ingest the same file run one after another: the file's checkpoint is taken by one producer at a time.
      const results: Array<{ code: number | null; stderr: string }> = [];
      for (const c of slice) results.push(await runCli(c.canary()));
      for (const [j, r] of results.entries()) expect(r.code, `canary of ${slice[j]!.name}: ${r.stderr}`).toBe(0);
    }
  });

  it('a header-less file: every row and its first line dead-lettered, and no value printed as a column name', async () => {
    const r = await runCli(ns('ingest', headerless, '-s', 'commerce'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/headerless\.csv: 2 rows read, 0 sent, 2 dead-lettered/);
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(r.stdout + r.stderr).not.toContain('T-cli-2');
  });
});
