// Hostile arguments to the CLI tools, each in a real `c360` process: a missing, wrong-kind or
// unreadable path, an impossible date, a bad number, an unknown namespace or source. Each class
// asserts its exit code and its one sentence (no stack trace); its canary is the same command with
// valid arguments, which must succeed.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNamespace } from '../support/topology.js';
import { runCli } from '../support/worker.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c360-hostile-cli-'));
const layer = path.join(dir, 'layer');
const brokenLayer = path.join(dir, 'broken-layer');
const file = path.join(dir, 'orders.csv');
const headerless = path.join(dir, 'headerless.csv');
const namespace = testNamespace();
/** A file of the test folder with this text, for the classes that hand c360 a bad settings or topology file. */
const topologyFile = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
const collectorFile = () => topologyFile('collector.json', JSON.stringify({ apiKeys: { 'collector-key-0123456789': 'web' } }));
/** A port something already listens on. */
let busyPort = 0;
const busy = net.createServer();
/** A namespace with its topics and nothing in them, where `c360 ledger` has nothing to report and exits 0. */
const quiet = testNamespace();
const secret = 'Ann.Secret@example.com';

interface CliClass {
  name: string;
  args: () => string[];
  /** Settings of the environment the command runs with. */
  env?: Record<string, string>;
  exit: number;
  /** Settings of the environment the canary runs with. */
  canaryEnv?: Record<string, string>;
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
  {
    name: 'privacy forget with a phone that is no number',
    args: () => [...ns('privacy', 'forget'), '--phone', 'abc'],
    exit: 2,
    says: /^c360: --phone "abc" is not a valid international phone number \(\+<country code>…\); set C360_PHONE_REGION to give national numbers\.$/,
    canary: () => [...ns('privacy', 'forget'), '--phone', '+353851234567'],
  },
  {
    name: 'privacy forget with a national phone number and no region to read it in',
    args: () => [...ns('privacy', 'forget'), '--phone', '085 123 4567'],
    exit: 2,
    says: /^c360: --phone "085 123 4567" is not a valid international phone number /,
    canary: () => [...ns('privacy', 'forget'), '--phone', '+353 85 123 4567'],
  },
  {
    name: 'privacy forget with a phone that is no number in its region (a national one is)',
    args: () => [...ns('privacy', 'forget'), '--phone', '12'],
    env: { C360_PHONE_REGION: 'ie' },
    exit: 2,
    says: /^c360: --phone "12" is not a valid phone number in IE or in international form\.$/,
    canary: () => [...ns('privacy', 'forget'), '--phone', '085 123 4567'],
    canaryEnv: { C360_PHONE_REGION: 'ie' },
  },
  {
    name: 'privacy forget with an identifier kind no topology field has',
    args: () => [...ns('privacy', 'forget'), '--id', 'nosuchkind=x'],
    exit: 2,
    says: /^c360: --id nosuchkind=… names the kind "nosuchkind", which no identifier of this topology has \(known: [a-z_, ]+\)\.$/,
    canary: () => [...ns('privacy', 'forget'), '--id', 'record_id=E-17'],
  },
  {
    name: 'privacy forget with a 10,000-character email',
    args: () => [...ns('privacy', 'forget'), '--email', `${'a'.repeat(10_000)}@example.com`],
    exit: 2,
    says: /^c360: --email "a{40}…" is not an email address\.$/,
    canary: () => [...ns('privacy', 'forget'), '--email', 'ann@example.com'],
  },
  {
    name: 'privacy export with an email that is not one',
    args: () => [...ns('privacy', 'export'), '--email', 'ann@', '--storage', layer],
    exit: 2,
    says: /^c360: --email "ann@" is not an email address\.$/,
    canary: () => [...ns('privacy', 'export'), '--email', 'ann@example.com', '--storage', layer],
  },
  {
    name: 'privacy forget where the privacy log cannot be written (procfs refuses a folder with ENOENT)',
    args: () => [...ns('privacy', 'forget'), '--customer-id', 'C-nobody', '--storage', '/proc/sys'],
    exit: 1,
    says: /^c360: request [0-9a-f-]{36} forgot 0 subject\(s\), but its log could not be written \(writing \/proc\/sys\/_spool\/\S+ failed: ENOENT: .*\): ask again, with the storage fixed, to log it\.$/,
    canary: () => [...ns('privacy', 'forget'), '--customer-id', 'C-nobody', '--storage', dir],
  },
  {
    name: 'a C360_PHONE_REGION that is no country',
    args: () => ['ledger', '--namespace', quiet],
    env: { C360_PHONE_REGION: 'XX' },
    exit: 2,
    says: /^c360: C360_PHONE_REGION must be an ISO 3166-1 alpha-2 country code libphonenumber knows, e\.g\. IE \(got "XX"\)\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  { name: 'an unknown command', args: () => ['teleport'], exit: 1, says: /^error: unknown command 'teleport'$/, canary: () => ['--version'] },
  {
    name: 'a topology file with a syntax error',
    args: () => ['ledger', '-t', topologyFile('syntax.js', 'export default {{{')],
    exit: 2,
    says: /^c360: topology file \S+syntax\.js has a syntax error: Unexpected token '\{'\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a topology file that throws as it loads',
    args: () => ['ledger', '-t', topologyFile('throws.js', 'throw new Error("no topology here");\nexport default {};')],
    exit: 2,
    says: /^c360: topology file \S+throws\.js failed as it loaded: no topology here\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a YAML topology file',
    args: () => ['ledger', '-t', topologyFile('topology.yaml', 'name: x\n')],
    exit: 2,
    says: /^c360: topology file \S+topology\.yaml is not a \.js, \.mjs or \.json file: /,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a topology "file" that is a folder',
    args: () => ['ledger', '-t', `${dir}/layer.js`],
    exit: 2,
    says: /^c360: topology file \S+layer\.js is not a file\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'KAFKA_BROKERS with a port out of range',
    args: () => ['ledger', '--namespace', quiet],
    env: { KAFKA_BROKERS: '127.0.0.1:99999' },
    exit: 2,
    says: /^c360: KAFKA_BROKERS must be a comma-separated list of host:port pairs with ports from 1 to 65535, e\.g\. 127\.0\.0\.1:9092 \(got "127\.0\.0\.1:99999"\)\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'REDIS_URL with a port out of range',
    args: () => ['ledger', '--namespace', quiet],
    env: { REDIS_URL: 'redis://127.0.0.1:99999' },
    exit: 2,
    says: /^c360: REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL with a port from 1 to 65535/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'C360_KEY_STORE_URL with a port out of range, its password never shown',
    args: () => ['ledger', '--namespace', quiet],
    env: { C360_KEY_STORE_URL: 'postgres://c360:s3cret-pw@127.0.0.1:99999/keys' },
    exit: 2,
    says: /^c360: C360_KEY_STORE_URL must be a postgres:\/\/ URL with a port from 1 to 65535 \(got "postgres:\/\/c360:\*\*\*@127\.0\.0\.1:99999\/keys"\)\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'key-store credentials the database refuses',
    args: () => [...ns('privacy', 'forget'), '--customer-id', 'C-nobody'],
    env: { C360_KEY_STORE_URL: 'postgres://nosuchrole@127.0.0.1:5432/postgres' },
    exit: 1,
    says: /^c360: the key store refused \(role "nosuchrole" does not exist, SQLSTATE 28000\): check the user and password of C360_KEY_STORE_URL\.$/,
    canary: () => [...ns('privacy', 'forget'), '--customer-id', 'C-nobody'],
  },
  {
    name: 'C360_S3_TIMEOUT_MS below its range',
    args: () => ['ledger', '--namespace', quiet],
    env: { C360_S3_TIMEOUT_MS: '5' },
    exit: 2,
    says: /^c360: C360_S3_TIMEOUT_MS is invalid: Too small: expected number to be >=100 \(got "5"\)\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'an --ops-port already in use',
    args: () => ['run', '--namespace', quiet, '--ops-port', String(busyPort)],
    exit: 2,
    says: /^c360: \/metrics, \/healthz and \/readyz cannot listen on 127\.0\.0\.1:\d+: the port is in use \(EADDRINUSE\); check --ops-port, C360_OPS_PORT and C360_HOST\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a collector --port already in use',
    args: () => ['collect', '--namespace', quiet, '--config', collectorFile(), '--port', String(busyPort)],
    exit: 2,
    says: /^c360: the collector cannot listen on 127\.0\.0\.1:\d+: the port is in use \(EADDRINUSE\); check --port, C360_COLLECTOR_PORT, --host and C360_HOST\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a collector --host that does not resolve',
    args: () => ['collect', '--namespace', quiet, '--config', collectorFile(), '--port', '0', '--host', 'no-such-host.invalid'],
    exit: 2,
    says: /^c360: the collector cannot listen on no-such-host\.invalid:0: the host name does not resolve \(ENOTFOUND\); /,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a --namespace Kafka cannot name topics with',
    args: () => ['ledger', '--namespace', 'Bad NS!'],
    exit: 1,
    says: invalid(
      '-n, --namespace <prefix>',
      'Bad NS!',
      'Must be lower-case letters, digits, dots and dashes, starting with a letter or digit \\(at most 100\\)\\.',
    ),
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a --code that is no error code',
    args: () => [...ns('quarantine', 'replay', '--storage', layer), '--code', 'nosuch.code', '--dry-run'],
    exit: 1,
    says: /Must be a record error code, e\.g\. decode\.invalid_json \(docs\/contracts\.md lists them\)\.$/,
    canary: () => [...ns('quarantine', 'replay', '--storage', layer), '--code', 'decode.invalid_json', '--dry-run'],
  },
  {
    name: 'raw read of a --source the topology does not have',
    args: () => [...ns('raw', 'read', '--storage', layer), '--source', 'nosuch'],
    exit: 2,
    says: /^c360: --source nosuch is not a source of topology customer360 \(known: crm, /,
    canary: () => [...ns('raw', 'read', '--storage', layer), '--source', 'crm'],
  },
  {
    name: 'matching train --out in a folder that does not exist',
    args: () => [...ns('matching', 'train', '--storage', layer), '--source', 'crm', '--out', '/nonexistent/dir/model.json'],
    exit: 1,
    says: /\/nonexistent\/dir is not a folder this process may write to\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a connector settings file that is not JSON',
    args: () => [...ns('connect', '--once'), '--config', topologyFile('connector.json', '{"name": "x",')],
    exit: 2,
    says: /^c360: connector config \S+connector\.json is not readable JSON \(/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a connect --interval past what a timer can wait',
    args: () => [...ns('connect'), '--config', topologyFile('helpdesk.json', '{}'), '--interval', '3000000000'],
    exit: 1,
    says: invalid('--interval <ms>', '3000000000', 'Must be 86400000 or less\\.'),
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a watch --poll past what a timer can wait',
    args: () => [...ns('watch', dir, '--once'), '--poll', '3000000000'],
    exit: 1,
    says: /Must be 86400000 or less\.$/,
    canary: () => [...ns('watch', dir, '--once')],
  },
  {
    name: 'a --session-timeout brokers refuse',
    args: () => ['run', '--namespace', quiet, '--session-timeout', '2000000'],
    exit: 1,
    says: /Must be 1800000 or less\.$/,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a topology whose match model does not fit its comparisons',
    args: () => [
      'ledger',
      '-t',
      topologyFile(
        'model.json',
        JSON.stringify({
          name: 't',
          sources: [{ name: 'crm', entity: 'CustomerProfile', key: 'customer_id' }],
          matching: { model: { prior: 0.01, comparisons: { last_name: { m: [0.9, 0.1], u: [0.2, 0.8] } } } },
        }),
      ),
    ],
    exit: 2,
    says: /^c360: topology matching\.model\.comparisons\.last_name must have 5 m and u probabilities, one per level /,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a Segment write key basic authentication cannot carry',
    args: () => [
      'collect',
      '--namespace',
      quiet,
      '--port',
      '0',
      '--config',
      topologyFile('segment.json', JSON.stringify({ segmentWriteKeys: { 'key:with-a-colon-inside': 'web' } })),
    ],
    exit: 2,
    says: /^c360: collector settings \S+segment\.json: segmentWriteKeys must not contain ":", /,
    canary: () => ['ledger', '--namespace', quiet],
  },
  {
    name: 'a raw layer holding a file named like Parquet that is not',
    args: () => ['raw', 'read', '--namespace', quiet, '--storage', brokenLayer],
    exit: 1,
    says: /^c360: \S+\/raw\/source=crm\/entity=CustomerProfile\/date=2026-12-06\/\S+\.parquet is not a Parquet file c360 can read \(/,
    canary: () => ['raw', 'read', '--namespace', quiet, '--storage', layer],
  },
  {
    name: 'a mapping file that is not JSON',
    args: () => [...ns('ingest', file, '-s', 'commerce'), '--mapping', topologyFile('mapping.json', '<mapping/>')],
    exit: 2,
    says: /^c360: mapping file \S+mapping\.json is not readable JSON \(/,
    canary: () => [...ns('ingest', file, '-s', 'commerce'), '--force'],
  },
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
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as net.AddressInfo).port;
    fs.mkdirSync(layer);
    fs.mkdirSync(`${dir}/layer.js`);
    const day = path.join(brokenLayer, 'raw', 'source=crm', 'entity=CustomerProfile', 'date=2026-12-06');
    fs.mkdirSync(day, { recursive: true });
    fs.writeFileSync(path.join(day, 't.raw.crm+0+00000000000000000000+00000000000000000001.parquet'), 'not parquet at all');
    fs.writeFileSync(file, HEADER + ROW('T-cli-1'));
    fs.writeFileSync(headerless, ROW('T-cli-2', secret) + ROW('T-cli-3', secret));
    for (const n of [namespace, quiet]) {
      const created = await runCli(['topics', 'create', '--namespace', n]);
      expect(created.code, created.stderr).toBe(0);
    }
  });
  afterAll(() => {
    busy.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`refuses ${classes.length} classes each with its exit code and one sentence, and runs each canary`, async () => {
    const outcomes: Array<[string, number | null, string]> = [];
    for (let i = 0; i < classes.length; i += 6) {
      const slice = classes.slice(i, i + 6);
      const results = await Promise.all(slice.map((c) => runCli(c.args(), c.env)));
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
      for (const c of slice) results.push(await runCli(c.canary(), c.canaryEnv));
      for (const [j, r] of results.entries()) expect(r.code, `canary of ${slice[j]!.name}: ${r.stderr}`).toBe(0);
    }
    // Twice as many CLI processes as classes, each started cold: what is asserted is their answers, so the time
    // they take on a loaded machine is given room rather than made a condition.
  }, 600_000);

  it('a header-less file: every row and its first line dead-lettered, and no value printed as a column name', async () => {
    const r = await runCli(ns('ingest', headerless, '-s', 'commerce'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/headerless\.csv: 2 rows read, 0 sent, 2 dead-lettered/);
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(r.stdout + r.stderr).not.toContain('T-cli-2');
  });
});
