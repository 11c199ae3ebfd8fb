/**
 * Tables read back by Apache Iceberg's own Java reader (test/clients/iceberg-reader/Reader.java, run
 * from the stack's Iceberg jars), as a JVM engine reads them through the REST catalog; and the
 * settings that point a sink at the local catalog.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { CATALOG_URL, icebergClasspath } from '../../dev/stack/catalog.js';
import { stackPaths } from '../../dev/stack/paths.js';
import { S3_URL } from '../../dev/stack/s3.js';
import type { Config } from '../../src/config.js';
import { type Long, parseLong, parseLongJson } from '../../src/contracts/long-json.js';
import { projectRoot } from '../../src/contracts/project.js';
import { config } from './kafka.js';

/** The local catalog and its S3 warehouse, as a sink's configuration. */
export const tableConfig: Config = {
  ...config,
  catalog: { url: CATALOG_URL, timeoutMs: 30_000 },
  s3: { ...config.s3, endpoint: S3_URL, forcePathStyle: true },
};

/** The same as environment variables, for a `c360` child process. */
export const TABLE_ENV: Record<string, string> = {
  C360_CATALOG_URL: CATALOG_URL,
  C360_S3_ENDPOINT: S3_URL,
  C360_S3_FORCE_PATH_STYLE: 'true',
  AWS_ACCESS_KEY_ID: 'c360-test',
  AWS_SECRET_ACCESS_KEY: 'c360-test',
  AWS_REGION: 'us-east-1',
};
for (const [k, v] of Object.entries(TABLE_ENV)) if (k.startsWith('AWS_')) process.env[k] ??= v;

interface SnapshotInfo {
  id: Long;
  parent: Long | null;
  timestamp: number;
  operation: string;
  summary: Record<string, string>;
  dataFiles: number;
}

export interface ReadTable {
  current: Long | null;
  snapshots: SnapshotInfo[];
  schema: string;
  spec: string;
  rows: Array<Record<string, unknown>>;
}

/** Runs Iceberg's Java client (Reader.java) on a table, with the given arguments after its name. */
async function javaClient(namespace: string, table: string, args: string[]): Promise<string> {
  const reader = path.join(projectRoot(), 'test', 'clients', 'iceberg-reader', 'Reader.java');
  const { stdout } = await promisify(execFile)(
    'java',
    [
      '-Xmx512m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-cp',
      icebergClasspath(stackPaths(config.home)),
      reader,
      CATALOG_URL,
      namespace,
      table,
      ...args,
    ],
    { maxBuffer: 512 * 1024 * 1024, timeout: 180_000 },
  );
  return stdout;
}

/** Every row of a table (at a snapshot id, or `@<ms>` for a time), with its snapshots, by Iceberg's Java reader. */
export async function readTable(namespace: string, table: string, at?: string): Promise<ReadTable> {
  const [head, ...rows] = (await javaClient(namespace, table, at ? [at] : [])).trim().split('\n');
  const about = parseLongJson(head!) as Omit<ReadTable, 'rows'>;
  return { ...about, rows: rows.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Commits what an engine's maintenance does (its manifests joined into one) under Iceberg's own snapshot id, and returns that id. */
export async function engineRewritesManifests(namespace: string, table: string): Promise<Long> {
  return parseLong((await javaClient(namespace, table, ['--rewrite-manifests'])).trim());
}
