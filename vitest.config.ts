import { defineConfig } from 'vitest/config';
import { CLUSTER_BROKERS } from './dev/stack/kafka.js';

// `unit` needs no service and runs in seconds (npm run test:unit); `fuzz` (*.fuzz.test.ts) is
// property-based fuzzing of what parses input, thousands of cases per property, also with no
// service (npm run test:fuzz); `integration` (*.int.test.ts) talks to the real Kafka, registry,
// Redis and S3Mock, which its global setup starts when they do not answer. `npm test` runs them
// all, with `deploy`; `cluster` runs on its own.
const everywhere = ['src', 'dev', 'test', 'topologies'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: everywhere.map((d) => `${d}/**/*.test.ts`),
          exclude: ['**/*.int.test.ts', '**/*.cluster.test.ts', '**/*.fuzz.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: { name: 'fuzz', include: everywhere.map((d) => `${d}/**/*.fuzz.test.ts`) },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: everywhere.map((d) => `${d}/**/*.int.test.ts`),
          exclude: ['test/deploy/**'],
          // Integration tests never skip for want of a service: this starts the local stack when it does not answer.
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        // The deployment's unit: production-tree workers scaled and killed, many processes at once. A later
        // group than the other projects, so its load does not slow the brokers under their tests.
        extends: true,
        test: {
          name: 'deploy',
          include: ['test/deploy/**/*.int.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Broker failures on the three-broker cluster (`c360 stack up --brokers 3`, started by the global setup when it does
        // not answer); only with `npm run test:cluster`, which CI also runs.
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.cluster.test.ts'],
          env: { KAFKA_BROKERS: CLUSTER_BROKERS.join(',') },
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
