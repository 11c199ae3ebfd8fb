/**
 * Makes sure the stack named by the environment answers before any test runs: uses it when it
 * does, starts the local stack when the addresses are the local defaults, and otherwise fails
 * loudly. Integration tests are never skipped for want of a service.
 */
import { loadConfig } from '../../src/config.js';
import { stackDown, stackUp } from '../../src/stack/index.js';
import { kafkaAnswers, redisAnswers, registryAnswers, s3Answers } from '../../src/stack/probes.js';
import { S3_URL } from '../../src/stack/s3.js';
import { REDIS_URL } from '../../src/stack/redis.js';
import { REGISTRY_URL } from '../../src/stack/registry.js';
import { KAFKA_PORT, LOOPBACK } from '../../src/stack/versions.js';

export default async function setup(): Promise<() => Promise<void>> {
  const config = loadConfig();
  const checks = [
    { name: 'Kafka', variable: 'KAFKA_BROKERS', value: config.kafka.brokers.join(','), local: `${LOOPBACK}:${KAFKA_PORT}`, answers: () => kafkaAnswers(config.kafka.brokers) },
    { name: 'the schema registry', variable: 'SCHEMA_REGISTRY_URL', value: config.schemaRegistry.url, local: REGISTRY_URL, answers: () => registryAnswers(config.schemaRegistry.url) },
    { name: 'Redis', variable: 'REDIS_URL', value: config.redisUrl, local: REDIS_URL, answers: () => redisAnswers(config.redisUrl) },
    // The S3 backend's tests always target the local S3Mock.
    { name: 'S3 (S3Mock)', variable: 'C360_S3_ENDPOINT', value: S3_URL, local: S3_URL, answers: () => s3Answers(S3_URL) },
  ];
  const missing = [];
  for (const check of checks) if (!(await check.answers())) missing.push(check);
  if (missing.length === 0) return async () => undefined;

  const remote = missing.filter((c) => c.value !== c.local);
  if (remote.length > 0) {
    throw new Error(remote.map((c) => `${c.name} at ${c.variable}=${c.value} does not answer, and the tests only start the local stack on its default addresses.`).join(' '));
  }
  console.log(`[global-setup] starting the local stack for: ${missing.map((c) => c.name).join(', ')}`);
  const reports = await stackUp(config.home, (line) => console.log(`[global-setup] ${line}`));
  const started = reports.filter((r) => r.action === 'started').map((r) => r.name);
  return async () => {
    if (started.length > 0) await stackDown(config.home, { only: started });
  };
}
