/**
 * Makes sure the services the configuration names answer: uses them when they do, starts the
 * local stack when they are on its default loopback addresses, and otherwise fails with one
 * sentence naming the variable. The test setup and `c360 demo` both start here.
 */
import type { Config } from '../../src/config.js';
import { StackError } from '../../src/contracts/errors.js';
import { catalogAnswers, kafkaAnswers, postgresAnswers, redisAnswers, registryAnswers, s3Answers } from '../../src/observability/probes.js';
import { CATALOG_URL } from './catalog.js';
import { stackUp } from './index.js';
import { CLUSTER_BROKERS, securedListenersOpen } from './kafka.js';
import { REDIS_URL } from './redis.js';
import { REGISTRY_URL } from './registry.js';
import { S3_URL } from './s3.js';
import { ensureDevSecrets } from './secrets.js';
import { sftpPart } from './sftp.js';
import { KAFKA_PORT, LOOPBACK } from './versions.js';

/**
 * What the local stack needs, where the environment says nothing: workers that create their
 * topics (the demo, tests and benchmarks start on new namespaces). Replication is the broker's own
 * default, as everywhere.
 */
export function localStackDefaults(): void {
  process.env.C360_CREATE_TOPICS ||= 'true';
}

export async function ensureStack(
  config: Config,
  options: { s3?: boolean; catalog?: boolean; secure?: boolean; sftp?: boolean; onProgress?: (line: string) => void } = {},
): Promise<string[]> {
  // Unless the environment names a secret, the checkout's own development secret serves (read by loadConfig from then on).
  if (!config.piiKey || !config.kek) ensureDevSecrets(config.home);
  // The local stack is one broker: topics get one replica there and workers create them, unless the environment says otherwise (read by loadConfig from then on).
  const brokers = config.kafka.brokers.join(',');
  if (brokers === `${LOOPBACK}:${KAFKA_PORT}`) localStackDefaults();
  // The three-broker cluster (`stack up --brokers 3`) is local too, with production replication.
  const cluster = brokers === CLUSTER_BROKERS.join(',');
  // The secured listeners are the single local broker's (`stack up --secure`): asked for against it only.
  const secure = options.secure === true && brokers === `${LOOPBACK}:${KAFKA_PORT}`;
  const checks = [
    {
      name: 'Kafka',
      variable: 'KAFKA_BROKERS',
      value: config.kafka.brokers.join(','),
      local: cluster ? brokers : `${LOOPBACK}:${KAFKA_PORT}`,
      answers: () => kafkaAnswers(config.kafka),
    },
    {
      name: 'the schema registry',
      variable: 'SCHEMA_REGISTRY_URL',
      value: config.schemaRegistry.url,
      local: REGISTRY_URL,
      answers: () => registryAnswers(config.schemaRegistry),
    },
    ...(secure
      ? [
          {
            name: "Kafka's secured listeners",
            variable: 'KAFKA_BROKERS',
            value: `${LOOPBACK}:${KAFKA_PORT}`,
            local: `${LOOPBACK}:${KAFKA_PORT}`,
            answers: securedListenersOpen,
          },
        ]
      : []),
    { name: 'Redis', variable: 'REDIS_URL', value: config.redisUrl, local: REDIS_URL, answers: () => redisAnswers(config.redisUrl) },
    ...(options.s3 ? [{ name: 'S3 (S3Mock)', variable: 'C360_S3_ENDPOINT', value: S3_URL, local: S3_URL, answers: () => s3Answers(S3_URL) }] : []),
    ...(options.catalog || config.catalog
      ? [
          {
            name: 'the Iceberg catalog',
            variable: 'C360_CATALOG_URL',
            value: config.catalog?.url ?? CATALOG_URL,
            local: CATALOG_URL,
            answers: () => catalogAnswers(config.catalog?.url ?? CATALOG_URL),
          },
        ]
      : []),
    ...(options.sftp ? [{ name: 'the SFTP drop', variable: 'SFTP', value: sftpPart.address, local: sftpPart.address, answers: () => sftpPart.answers() }] : []),
  ];
  // PostgreSQL is the machine's own service (Debian's postgresql), not a part the stack starts.
  if (!(await postgresAnswers(config.keyStoreUrl))) {
    throw new StackError(
      `PostgreSQL (the key store) at C360_KEY_STORE_URL=${config.keyStoreUrl} does not answer; start it (Debian: apt-get install postgresql, then pg_ctlcluster <version> main start) or point C360_KEY_STORE_URL at one.`,
    );
  }
  const missing = [];
  for (const check of checks) if (!(await check.answers())) missing.push(check);
  if (missing.length === 0) return [];
  const remote = missing.filter((c) => c.value !== c.local);
  if (remote.length > 0) {
    throw new StackError(
      remote
        .map((c) => `${c.name} at ${c.variable}=${c.value} does not answer, and only the local stack on its default addresses is started automatically.`)
        .join(' '),
    );
  }
  options.onProgress?.(`starting the local stack for: ${missing.map((c) => c.name).join(', ')}`);
  const reports = await stackUp(config.home, options.onProgress, { brokers: cluster ? 3 : 1, secure, sftp: options.sftp === true });
  return reports.filter((r) => r.action === 'started').map((r) => r.name);
}
