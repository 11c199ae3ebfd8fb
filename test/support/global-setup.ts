/**
 * Makes sure the stack named by the environment answers before any test runs (dev/stack/ensure.ts):
 * integration tests are never skipped for want of a service. A project's own test environment
 * counts (the cluster project's KAFKA_BROKERS names the three-broker cluster, which is then started).
 * What this setup started, it stops.
 */
import type { TestProject } from 'vitest/node';
import { ensureStack } from '../../dev/stack/ensure.js';
import { stackDown } from '../../dev/stack/index.js';
import { loadConfig } from '../../src/config.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const config = loadConfig({ ...process.env, ...project.config.env });
  // The S3 backend's and the table layer's tests always target the local S3Mock and Iceberg catalog; the TLS and SASL tests, the single broker's secured listeners; the SFTP tests, the stack's OpenSSH.
  const started = await ensureStack(config, { s3: true, catalog: true, secure: true, sftp: true, onProgress: (line) => console.log(`[global-setup] ${line}`) });
  return async () => {
    if (started.length > 0) await stackDown(config.home, { only: started });
  };
}
