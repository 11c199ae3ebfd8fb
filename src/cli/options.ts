/**
 * The flags several commands share, and the parsers that validate every flag's value as commander
 * reads it: a wrong value is one sentence naming the flag ("option '--batch-rows <n>' argument
 * 'abc' is invalid. Must be a whole number.") and a non-zero exit, never a NaN passed on.
 */

import fs from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Config, loadConfig } from '../config.js';
import { ConfigError, RECORD_ERROR_CODES } from '../contracts/errors.js';
import { type Long, parseLong, stringifyLongJson } from '../contracts/long-json.js';
import type { Topology } from '../contracts/topology-definition.js';
import type { TableAt } from '../sinks/layer-files.js';

/** A whole number within bounds. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError('Must be a whole number.');
    const n = Number(value);
    if (n < min) throw new InvalidArgumentError(`Must be ${min} or more.`);
    if (n > max) throw new InvalidArgumentError(`Must be ${max} or less.`);
    return n;
  };
}

export const port = integer(0, 65_535);

/** The longest wait a flag may ask for: a day (a timer cannot wait past 24.8 days, and Node would fire it at once instead). */
const MAX_WAIT_MS = 86_400_000;

/** A time in milliseconds, at least `min`, at most a day. */
export const milliseconds = (min: number) => integer(min, MAX_WAIT_MS);

/** A calendar date, YYYY-MM-DD, that exists (no 30 February). */
export function calendarDate(value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!date || date.toISOString().slice(0, 10) !== value) throw new InvalidArgumentError('Must be a date in YYYY-MM-DD form.');
  return value;
}

/** A cell delimiter: one to four characters, as a mapping file's. */
export function delimiter(value: string): string {
  if (value.length < 1 || value.length > 4) throw new InvalidArgumentError('Must be one to four characters.');
  return value;
}

/** Repeatable, comma-separated values, each checked by `parse`. */
export function many(parse: (value: string) => string = (v) => v): (value: string, previous?: string[]) => string[] {
  return (value, previous = []) => [
    ...previous,
    ...value
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map(parse),
  ];
}

function existing(kind: 'file' | 'folder' | 'file or folder'): (value: string) => string {
  return (value) => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(value);
    } catch {
      throw new InvalidArgumentError(`No ${kind} ${value} exists.`);
    }
    if (kind === 'file' && !stat.isFile()) throw new InvalidArgumentError(`${value} is not a file.`);
    if (kind === 'folder' && !stat.isDirectory()) throw new InvalidArgumentError(`${value} is not a folder.`);
    try {
      fs.accessSync(value, fs.constants.R_OK);
    } catch {
      throw new InvalidArgumentError(`${value} cannot be read.`);
    }
    return value;
  };
}

export const existingFile = existing('file');

/** A file to write: its folder exists and may be written, and it is not a folder itself. */
export function writableFile(value: string): string {
  const folder = path.dirname(path.resolve(value));
  try {
    fs.accessSync(folder, fs.constants.W_OK);
  } catch {
    throw new InvalidArgumentError(`${folder} is not a folder this process may write to.`);
  }
  if (fs.statSync(value, { throwIfNoEntry: false })?.isDirectory()) throw new InvalidArgumentError(`${value} is a folder.`);
  return value;
}

/** A namespace: what prefixes topics, groups and Redis keys, in the characters all of them allow. */
function namespaceName(value: string): string {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(value) || value.length > 100)
    throw new InvalidArgumentError('Must be lower-case letters, digits, dots and dashes, starting with a letter or digit (at most 100).');
  return value;
}

/** A record error code (docs/contracts.md lists them). */
export function recordErrorCode(value: string): string {
  if (!(value in RECORD_ERROR_CODES)) throw new InvalidArgumentError(`Must be a record error code, e.g. decode.invalid_json (docs/contracts.md lists them).`);
  return value;
}
export const existingFolder = existing('folder');
export const existingPath = existing('file or folder');

/** The raw layer to read: s3://bucket[/prefix], or a folder (file:///path or a path) that exists. */
function storageToRead(value: string): string {
  if (/^s3:\/\/[^/]+/.test(value)) return value;
  existingFolder(value.startsWith('file://') ? new URL(value).pathname : value);
  return value;
}

/** Names given with --source that are sources of the topology; one that is not is one sentence. */
export function sourcesOf(topology: Topology, names: string[]): string[] {
  const known = topology.sources.map((s) => s.name);
  const unknown = names.find((n) => !known.includes(n));
  if (unknown !== undefined) throw new ConfigError(`--source ${unknown} is not a source of topology ${topology.name} (known: ${known.join(', ')}).`);
  return names;
}

export interface TopologyOptions {
  topology: string;
  namespace?: string;
}

/** Which topology, and under which namespace: flags, or in a pod C360_TOPOLOGY and C360_NAMESPACE (src/config.ts). */
export function withTopology(cmd: Command): Command {
  return cmd
    .addOption(new Option('-t, --topology <name|file>', 'topology name in topologies/, or a .js/.json file').env('C360_TOPOLOGY').default('customer360'))
    .addOption(
      new Option('-n, --namespace <prefix>', "override the topology's namespace (topic, group and Redis key prefix)")
        .env('C360_NAMESPACE')
        .argParser(namespaceName),
    );
}

/** For consumer workers: how long the group waits for a silent member (a killed pod) before giving its partitions away. */
export function withSessionTimeout(cmd: Command): Command {
  return cmd.addOption(
    // Brokers refuse a session longer than their group.max.session.timeout.ms (30 minutes by default).
    new Option('--session-timeout <ms>', 'consumer session timeout').env('C360_SESSION_TIMEOUT_MS').argParser(integer(1_000, 1_800_000)).default(30_000),
  );
}

/** For consumer workers: create the topology's missing topics at start (otherwise they must exist). */
export function withCreateTopics(cmd: Command): Command {
  return cmd.option('--create-topics', "create the topology's missing topics at start (default C360_CREATE_TOPICS; otherwise c360 topics create makes them)");
}

/** The configuration, with --create-topics applied. */
export function configCreatingTopics(config: Config, createTopics: boolean | undefined): Config {
  return createTopics ? { ...config, createTopics: true } : config;
}

/** For commands that report: one JSON document on stdout instead of the text, for scripts and pipelines. */
export function withJson(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON document instead of text (the same exit code)', false);
}

/** For commands that print as they go (a watcher's files): one JSON line per item with --json. */
export function withJsonLines(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON line per item instead of a text line (the same exit code)', false);
}

/** Prints `data` as one JSON line with --json, else runs `text`, which prints the text form. */
export function report(o: { json?: boolean }, data: unknown, text: () => void): void {
  if (o.json) console.log(stringifyLongJson(data));
  else text();
}

export interface ServeOptions {
  serve: boolean;
  interval: number;
  opsPort?: number;
}

/** For commands that print once, or with --serve keep exporting what they find on the ops port every --interval. */
export function withServe(cmd: Command, what: string, defaultIntervalMs: number): Command {
  return withOpsPort(cmd)
    .option('--serve', 'keep exporting it as metrics on the ops port until SIGTERM, instead of printing once', false)
    .option('--interval <ms>', `time between ${what} with --serve`, milliseconds(1000), defaultIntervalMs);
}

/** For long-running commands: where /metrics, /healthz and /readyz listen. */
export function withOpsPort(cmd: Command): Command {
  return cmd.option('--ops-port <port>', 'port of /metrics, /healthz, /readyz (default C360_OPS_PORT; 0 picks one)', port);
}

/** For commands that read the raw layer: where it is, unless C360_STORAGE_URL (else C360_DATA_DIR) says. */
export function withStorageToRead(cmd: Command): Command {
  return cmd.option('--storage <url>', 'raw layer root: a folder or s3://bucket/prefix (default C360_STORAGE_URL, else C360_DATA_DIR)', storageToRead);
}

/** The configuration, with the raw layer's root from --storage when given. */
export function configWithStorage(storage: string | undefined): Config {
  return loadConfig(storage ? { ...process.env, C360_STORAGE_URL: storage } : process.env);
}

export interface TableAtOptions {
  snapshot?: Long;
  asOf?: number;
}

/** Time travel over tables (C360_CATALOG_URL): a snapshot by id, or the one current at an instant. */
export function withTableAt(cmd: Command): Command {
  return cmd
    .option('--snapshot <id>', "read each table as it was at this snapshot (an id from the table's history)", (v: string) => {
      // Other engines' snapshot ids are 63-bit: read exactly, never rounded to a number.
      if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError('Must be a snapshot id, a whole number.');
      return parseLong(v.trim());
    })
    .option('--as-of <time>', 'read each table as it was at this instant (ISO 8601, e.g. 2026-12-01T00:00:00Z)', (v: string) => {
      const ms = Date.parse(v);
      if (!Number.isFinite(ms)) throw new InvalidArgumentError('Must be an ISO 8601 instant, e.g. 2026-12-01T00:00:00Z.');
      return ms;
    });
}

export function tableAt(o: TableAtOptions): TableAt {
  return { ...(o.snapshot !== undefined ? { snapshotId: o.snapshot } : {}), ...(o.asOf !== undefined ? { asOfMs: o.asOf } : {}) };
}
