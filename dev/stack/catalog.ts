/**
 * Apache Iceberg's reference REST catalog (org.apache.iceberg.rest.RESTCatalogServer), run from its
 * Maven Central jars: a JDBC catalog on a SQLite file in the stack's state folder, so tables outlive
 * a restart as the broker's data does, and the warehouse on the local S3. The server reads its
 * settings from CATALOG_* variables (CATALOG_S3_ENDPOINT is the property s3.endpoint).
 */
import path from 'node:path';
import { catalogAnswers } from '../../src/observability/probes.js';
import { mavenFetch } from './maven.js';
import type { StackPart } from './part.js';
import type { StackPaths } from './paths.js';
import { requireJava } from './prerequisites.js';
import { S3_URL } from './s3.js';
import { CATALOG_PORT, ICEBERG_VERSION, LOOPBACK, WAREHOUSE_URL } from './versions.js';

export const CATALOG_URL = `http://${LOOPBACK}:${CATALOG_PORT}`;

/** The catalog's jars (and the Java reader's, which the tests run), fetched once; returns a classpath. */
export function icebergClasspath(paths: StackPaths): string {
  requireJava();
  const libs = path.join(paths.cache, `iceberg-${ICEBERG_VERSION}`);
  mavenFetch(
    libs,
    'copy-dependencies',
    { 'iceberg.version': ICEBERG_VERSION, includeScope: 'runtime' },
    `Apache Iceberg ${ICEBERG_VERSION}`,
    'iceberg/pom.xml',
  );
  return `${libs}/*`;
}

/** How a JVM reaches the local S3 as the warehouse: S3FileIO's properties (S3Mock takes any key). */
const WAREHOUSE_S3_PROPERTIES: Record<string, string> = {
  's3.endpoint': S3_URL,
  's3.path-style-access': 'true',
  's3.access-key-id': 'c360-local',
  's3.secret-access-key': 'c360-local',
  'client.region': 'us-east-1',
};

/** Catalog properties as the server's CATALOG_* variables: dots become one underscore, dashes two. */
function catalogEnv(properties: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(properties)) env[`CATALOG_${k.replaceAll('-', '__').replaceAll('.', '_').toUpperCase()}`] = v;
  return env;
}

export const catalogPart: StackPart = {
  name: 'catalog',
  address: CATALOG_URL,
  readyTimeoutMs: 60_000,
  answers: () => catalogAnswers(CATALOG_URL),
  prepare(paths: StackPaths) {
    const classpath = icebergClasspath(paths);
    const marker = `-Dc360.stack=${paths.state}`;
    return {
      name: 'catalog',
      command: 'java',
      args: ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', marker, '-cp', classpath, 'org.apache.iceberg.rest.RESTCatalogServer'],
      cwd: paths.state,
      env: {
        ...process.env,
        REST_PORT: String(CATALOG_PORT),
        ...catalogEnv({
          'catalog-impl': 'org.apache.iceberg.jdbc.JdbcCatalog',
          uri: `jdbc:sqlite:${path.join(paths.state, 'iceberg-catalog.db')}`,
          // SQLite takes one writer at a time: with the pool's default of two connections, commits to
          // different tables at once fail with SQLITE_BUSY (a 500) once a write outlasts the driver's
          // busy timeout. One connection queues them in the server instead.
          clients: '1',
          'jdbc.busy_timeout': '30000',
          'jdbc.journal_mode': 'WAL',
          'jdbc.schema-version': 'V1',
          'jdbc.strict-mode': 'true',
          warehouse: WAREHOUSE_URL,
          'io-impl': 'org.apache.iceberg.io.ResolvingFileIO',
          ...WAREHOUSE_S3_PROPERTIES,
        }),
      },
      marker,
    };
  },
};
