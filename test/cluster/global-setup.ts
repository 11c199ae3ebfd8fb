/**
 * The cluster project's global setup: makes sure the three-broker cluster (`c360 stack up --brokers 3`)
 * and the registry, Redis and S3 answer, starting what does not; what it started, it stops.
 */
import { ensureStack } from '../../dev/stack/ensure.js';
import { stackDown } from '../../dev/stack/index.js';
import { CLUSTER_BROKERS } from '../../dev/stack/kafka.js';
import { loadConfig } from '../../src/config.js';

export default async function setup(): Promise<() => Promise<void>> {
  const config = loadConfig({ ...process.env, KAFKA_BROKERS: CLUSTER_BROKERS.join(',') });
  const started = await ensureStack(config, { s3: true, onProgress: (line) => console.log(`[cluster-setup] ${line}`) });
  return async () => {
    if (started.length > 0) await stackDown(config.home, { only: started });
  };
}
