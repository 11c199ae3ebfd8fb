// The worst a record can ask of a worker: customer profiles whose names and address lines are
// hundreds of thousands of characters, all sharing one email, so that every one is a near-duplicate
// candidate of every other and each pair is compared. Every comparison, regular expression and
// parser a user-controlled string reaches has a length bound, so no record holds the event loop:
// a real `c360 run` answers /healthz throughout (its stall limit set to one second) and checks
// every record.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { topicNames } from '../../src/contracts/topic-names.js';
import { crmProfile, variant, webEvent } from '../fixtures/records.js';
import { testKafka } from '../support/kafka.js';
import { json, ledgerNow, produce, testNamespace } from '../support/topology.js';
import { opsUrl, spawnWorker } from '../support/worker.js';

const kafka = testKafka();
/** Letters only, different in every record: no two names are equal, so each pair is scored. */
const letters = (n: number) =>
  randomBytes(n)
    .toString('base64')
    .replace(/[^A-Za-z]/g, 'q')
    .slice(0, n);

describe('worst-case records never hold the event loop', () => {
  it('c360 run answers /healthz throughout 60 profiles with 200,000-character names sharing one email, and checks them all', async () => {
    const namespace = testNamespace();
    const names = topicNames(namespace);
    const worker = spawnWorker(namespace, { C360_MAX_EVENT_LOOP_STALL_MS: '1000', LOG_LEVEL: 'info' });
    try {
      let url: string | undefined;
      for (let i = 0; i < 300 && !(url = opsUrl(worker)); i++) await sleep(100);
      expect(url, worker.output()).toBeDefined();
      for (let i = 0; i < 300 && (await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200; i++) await sleep(100);

      const profiles = Array.from({ length: 60 }, (_, i) =>
        json(
          variant(crmProfile, {
            customer_id: `C-worst-${i}`,
            email: 'same.person@example.com',
            first_name: letters(200_000),
            last_name: letters(200_000),
            address: { ...crmProfile.address, line1: letters(200_000) },
          }),
        ),
      );
      const events = Array.from({ length: 20 }, (_, i) =>
        json(variant(webEvent, { event_id: `ev-worst-${i}`, page_url: `https://shop.example/${letters(500_000)}`, properties: { q: letters(300_000) } })),
      );
      const probes: Array<number | string> = [];
      let done = false;
      const probing = (async () => {
        while (!done) {
          const answer = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
            (r) => r.status,
            (err: Error) => err.name,
          );
          probes.push(answer);
          await sleep(100);
        }
      })();
      // One record a request: each is close to the broker's limit.
      for (const m of profiles) await produce(kafka, names.ingest('crm'), [m]);
      for (const m of events) await produce(kafka, names.ingest('web'), [m]);
      let ledger = await ledgerNow(kafka, names);
      for (let i = 0; i < 1_200 && ledger.total.in < 80; i++) {
        await sleep(250);
        ledger = await ledgerNow(kafka, names);
      }
      done = true;
      await probing;
      expect(ledger.total.in).toBe(80);
      expect(ledger.total.in).toBe(ledger.total.raw + ledger.total.dead_letter + ledger.total.duplicates + ledger.total.suppressed);
      expect(probes.length).toBeGreaterThan(10);
      expect(probes.filter((p) => p !== 200)).toEqual([]);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });
});
