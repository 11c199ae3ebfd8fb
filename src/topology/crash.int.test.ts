import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { crmProfile, variant } from '../../test/fixtures/records.js';
import { testKafka } from '../../test/support/kafka.js';
import { clearRedis, json, produce, testNamespace, waitForLedger } from '../../test/support/topology.js';
import { spawnWorker } from '../../test/support/worker.js';
import { topicNames } from '../contracts/topic-names.js';
import { readToEnd } from '../kafka/read-to-end.js';

const kafka = testKafka();
const UNIQUE = 3000;
const DUPLICATES = 300;
const INVALID = 300;

describe('crash safety: workers killed with SIGKILL mid-batch lose nothing and land nothing twice', () => {
  let namespace = '';
  afterAll(async () => {
    if (namespace) await clearRedis(namespace);
  });

  it('survives kills at each point of the transaction cycle and at random moments', async () => {
    namespace = testNamespace();
    const names = topicNames(namespace);
    // Small fetches make many batches, so kills land in the middle of the stream.
    const args = ['--max-batch-bytes', '32768'];

    // The first worker creates the topics and schemas, then dies before its first commit.
    const first = spawnWorker(namespace, { C360_CRASH_AT: 'after-stages:1' }, args);
    const profiles = Array.from({ length: UNIQUE }, (_, i) =>
      variant(crmProfile, { customer_id: `C-${i}`, email: `customer${i}@example.com`, phone: null, last_name: `Name${i}` }),
    );
    const invalid = Array.from({ length: INVALID }, (_, i) => variant(crmProfile, { customer_id: `X-${i}`, email: `broken${i}@@example.com` }));
    const duplicates = profiles.slice(0, DUPLICATES);
    await sleep(4000); // let it create the topics
    const messages = [...profiles, ...invalid, ...duplicates].map((p) => json(p));
    for (let i = 0; i < messages.length; i += 500) await produce(kafka, names.ingest('crm'), messages.slice(i, i + 500));
    expect((await first.exited).signal).toBe('SIGKILL');

    // Crash points inside the cycle: after the stages (Redis claims made), after the sends (transaction open), after the commit.
    for (const point of ['after-send:2', 'after-commit:3', 'after-stages:4', 'after-send:5']) {
      const w = spawnWorker(namespace, { C360_CRASH_AT: point }, args);
      const { signal } = await w.exited;
      expect(signal, `worker with C360_CRASH_AT=${point} did not crash: ${w.output()}`).toBe('SIGKILL');
    }
    // Kills from outside at random moments.
    for (const delay of [1500 + Math.random() * 3000, 1500 + Math.random() * 3000]) {
      const w = spawnWorker(namespace, {}, args);
      await sleep(delay);
      w.child.kill('SIGKILL');
      await w.exited;
    }

    const last = spawnWorker(namespace, {}, args);
    const total = UNIQUE + INVALID + DUPLICATES;
    const ledger = await waitForLedger(kafka, names, (l) => l.total.in === total, 120_000);
    last.child.kill('SIGTERM');
    const { code } = await last.exited;
    expect(code).toBe(0);

    expect(ledger.total).toMatchObject({ in: total, raw: UNIQUE, duplicates: DUPLICATES, dead_letter: INVALID });
    const rawKeys: string[] = [];
    await readToEnd(kafka, names.raw('crm'), (m) => rawKeys.push(m.key!.toString()));
    expect(rawKeys).toHaveLength(UNIQUE);
    expect(new Set(rawKeys).size).toBe(UNIQUE);
    let dead = 0;
    await readToEnd(kafka, names.deadLetter, () => dead++);
    expect(dead).toBe(INVALID);
  });
});
