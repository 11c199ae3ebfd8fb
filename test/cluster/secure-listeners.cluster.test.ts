// `c360 stack up --secure` on a single broker that runs without the secured listeners: it is
// restarted with them, its data kept. Here rather than in the integration project because it
// restarts the single broker, which this project's other tests (on the three-broker cluster) do not
// use, and this project's files run one at a time.
import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { stackDown, stackUp } from '../../dev/stack/index.js';
import { securedListenersOpen } from '../../dev/stack/kafka.js';
import { KAFKA_PORT, LOOPBACK } from '../../dev/stack/versions.js';
import { loadConfig } from '../../src/config.js';
import { createKafka } from '../../src/kafka/client.js';
import { ensureTopics } from '../../src/kafka/topic-admin.js';
import { config, logger } from '../support/kafka.js';
import { testNamespace } from '../support/topology.js';

const single = loadConfig({ ...process.env, KAFKA_BROKERS: `${LOOPBACK}:${KAFKA_PORT}` });

/** Runs `work` with an admin client of the single broker. */
async function onSingleBroker<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = createKafka(single, logger, 'secure-listeners-test').admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

describe('stack up --secure', () => {
  it('restarts a single broker running without the secured listeners with them, its topics kept', async () => {
    await stackDown(config.home, { only: ['kafka'] });
    await stackUp(config.home, () => undefined, { brokers: 1 });
    expect(await securedListenersOpen()).toBe(false);
    const topic = `${testNamespace()}.kept`;
    await onSingleBroker((admin) => ensureTopics(admin, [{ topic, numPartitions: 1 }]));

    const progress: string[] = [];
    await stackUp(config.home, (line) => progress.push(line), { brokers: 1, secure: true });
    expect(progress).toContain('kafka: running with other settings than asked; restarting it');
    expect(await securedListenersOpen()).toBe(true);
    expect(await onSingleBroker((admin) => admin.listTopics())).toContain(topic);

    // Asked again, it is left as it is.
    const again: string[] = [];
    await stackUp(config.home, (line) => again.push(line), { brokers: 1, secure: true });
    expect(again.filter((l) => l.startsWith('kafka:'))).toEqual([`kafka: already running at ${LOOPBACK}:${KAFKA_PORT}`]);
  });
});
